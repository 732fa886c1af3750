use super::*;

fn all_operations() -> Vec<Operation> {
    let mut requests = generator(SchemaSettings::draft2020_12().for_deserialize());
    let mut responses = generator(SchemaSettings::draft2020_12().for_serialize());
    operations(&mut requests, &mut responses)
}

/// `api/openapi.json` is what the types generate (`UPDATE_SCHEMAS=1 cargo test -p shop-core
/// --features schemas api_schemas_are_committed` rewrites it; so does `make schemas`).
#[test]
fn api_schemas_are_committed() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(DOCUMENT_PATH);
    let text = serde_json::to_string_pretty(&document().unwrap()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{DOCUMENT_PATH} differs from the types: run UPDATE_SCHEMAS=1 cargo test -p shop-core --features schemas api_schemas_are_committed"
    );
}

#[test]
fn every_route_of_every_api_function_is_documented_and_nothing_else() {
    let served: BTreeSet<(String, String)> = [
        crate::catalog::ROUTES,
        crate::cart::ROUTES,
        crate::auth::api::ROUTES,
        crate::checkout::ROUTES,
        crate::orders::api::ROUTES,
        crate::media::api::ROUTES,
    ]
    .into_iter()
    .flatten()
    .flat_map(|route| {
        route
            .methods
            .iter()
            .map(|m| (route.resource.to_owned(), (*m).to_owned()))
    })
    .collect();
    let documented: BTreeSet<(String, String)> = all_operations()
        .iter()
        .map(|op| (op.path.to_owned(), op.method.to_owned()))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_error_the_api_can_answer_is_in_the_document() {
    let documented: BTreeSet<&str> = all_operations()
        .iter()
        .flat_map(|op| error_codes(op).into_values().flatten())
        .collect();
    for err in every_error() {
        assert_eq!(
            documented.contains(err.code()),
            reachable_over_http(&err),
            "{}",
            err.code()
        );
    }
    let variants: BTreeSet<&str> = every_error().iter().map(|e| e.code()).collect();
    assert_eq!(
        variants.len(),
        every_error().len(),
        "one sample per variant"
    );
}

#[test]
fn operation_ids_are_unique_and_every_path_parameter_is_declared() {
    let ops = all_operations();
    let ids: BTreeSet<&str> = ops.iter().map(|op| op.id).collect();
    assert_eq!(ids.len(), ops.len());
    for op in &ops {
        let in_path: BTreeSet<&str> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let declared: BTreeSet<&str> = op
            .parameters
            .iter()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(in_path, declared, "{} {}", op.method, op.path);
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.trim_start_matches('#');
        assert!(
            doc.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => refs.push(r.clone()),
                    _ => collect_refs(value, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[test]
fn error_responses_name_their_codes() {
    let doc = document().unwrap();
    let put = &doc["paths"]["/cart/items/{sku}"]["put"]["responses"];
    let codes = &put["409"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
        ["properties"]["code"]["enum"];
    assert_eq!(
        codes,
        &json!(["CART_CONFLICT", "CART_FULL", "INSUFFICIENT_STOCK"])
    );
    assert_eq!(
        doc["paths"]["/cart"]["get"]["responses"]["401"]["description"],
        "Unauthorized: GATEWAY_UNAUTHORIZED, UNAUTHORIZED"
    );
    assert!(doc["paths"]["/products"]["get"]["responses"]["401"].is_null());
}

#[test]
fn the_partner_route_takes_an_api_key_and_only_it_does() {
    let doc = document().unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["partnerKey"],
        json!({"type": "apiKey", "in": "header", "name": "x-api-key",
               "description": doc["components"]["securitySchemes"]["partnerKey"]["description"]})
    );
    let partner = &doc["paths"]["/partner/products"]["get"];
    assert_eq!(partner["security"], json!([{"partnerKey": []}]));
    assert_eq!(
        partner["responses"]["403"]["description"],
        "Forbidden: FORBIDDEN, GATEWAY_INVALID_API_KEY"
    );
    assert_eq!(
        partner["responses"]["429"]["description"],
        "Too Many Requests: GATEWAY_QUOTA_EXCEEDED, GATEWAY_THROTTLED"
    );
    assert_eq!(
        partner["responses"]["200"]["content"]["application/json"]["schema"],
        doc["paths"]["/products"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    );
    let keyed: Vec<&str> = all_operations()
        .iter()
        .filter(|op| op.auth == Auth::ApiKey)
        .map(|op| op.path)
        .collect();
    assert_eq!(keyed, [crate::catalog::PARTNER_PRODUCTS]);
}

#[test]
fn bodies_are_the_handlers_types() {
    let doc = document().unwrap();
    let schemas = &doc["components"]["schemas"];
    // Serialised (response) contract: a nullable field is still always present.
    assert_eq!(
        schemas["ProductList"]["required"],
        json!(["items", "nextCursor"])
    );
    assert_eq!(
        schemas["SetQuantity"]["properties"]["quantity"]["$ref"],
        "#/components/schemas/Quantity"
    );
    assert!(
        schemas["PaymentToken"]["enum"]
            .as_array()
            .is_some_and(|tokens| tokens
                .iter()
                .filter_map(Value::as_str)
                .all(|t| crate::orders::PaymentToken::parse(t).is_ok())
                && tokens.len() == 32)
    );
    let statuses = schemas["OrderStatus"]["enum"].as_array().map(Vec::len);
    assert_eq!(statuses, Some(crate::orders::OrderStatus::ALL.len()));
    // The limits the register handler checks.
    let account = &schemas["NewAccount"]["properties"];
    assert_eq!(
        account["password"]["minLength"],
        *crate::auth::api::PASSWORD_LENGTH.start()
    );
    assert_eq!(
        account["password"]["maxLength"],
        *crate::auth::api::PASSWORD_LENGTH.end()
    );
    assert_eq!(account["email"]["maxLength"], crate::auth::MAX_EMAIL_BYTES);
    assert_eq!(
        schemas["Credentials"]["properties"]["email"]["maxLength"],
        crate::auth::MAX_EMAIL_BYTES
    );
    // The cancel answer's run is there only when a run was started or found.
    assert_eq!(
        schemas["OrderStatusChange"]["required"],
        json!(["orderId", "status"])
    );
    // images-api: what the upload needs, and the image id's grammar on its path.
    assert_eq!(
        schemas["NewImage"]["required"],
        json!(["contentType", "contentLength"])
    );
    assert_eq!(
        schemas["UploadTicket"]["required"],
        json!([
            "imageId",
            "uploadUrl",
            "expiresAt",
            "maxBytes",
            "requiredHeaders"
        ])
    );
    let delete = &doc["paths"]["/products/{sku}/images/{imageId}"]["delete"];
    assert_eq!(
        delete["parameters"][1]["schema"]["$ref"],
        "#/components/schemas/ImageId"
    );
    assert_eq!(
        delete["responses"]["404"]["description"],
        "Not Found: IMAGE_NOT_FOUND"
    );
}
