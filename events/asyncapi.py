#!/usr/bin/env python3
"""Writes events/asyncapi.yaml, the AsyncAPI 3 description of the shop's event flows.

    python3 events/asyncapi.py           # rewrite events/asyncapi.yaml
    python3 events/asyncapi.py --check   # fail if the committed file is not what this writes

Nothing in it is typed by hand: the channels (the topic and every queue, with its FIFO flag,
delivery delay, DLQ and receive count), each subscription's filter policy and raw delivery
come from infra/template.yaml; which event types a queue receives comes from its filter
policy, or, for the queues the workflows write to directly, from the `eventType` of the
`sqs:sendMessage` states in statemachines/*.asl.json; the message payloads are the JSON
Schemas under events/schemas/ (generated from the Rust types); the producers are the
`source` of the envelopes captured from a LocalStack run (events/envelopes/). The media
bucket's topic (`MediaEventsTopic`) carries S3's own notifications, not the shop's envelopes:
its queues get one message, `S3ObjectCreated` (the shape `shop_core::media::events` reads).
`make lint` runs --check.
"""
import json
import os
import re
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "events", "asyncapi.yaml")

# The topic of the shop's envelopes; any other topic is described by FOREIGN_TOPICS.
EVENTS_TOPIC = "EventsTopic"

# Topics whose messages are not the shop's envelopes: who publishes and what.
FOREIGN_TOPICS = {
    "MediaEventsTopic": {
        "channel": "mediaEvents",
        "title": "The media bucket's notifications (SNS)",
        "description": "S3 ObjectCreated notifications of the media bucket for keys under uploads/ and "
                       "thumbnails/ (two notification configurations, one per prefix), fanned out to "
                       "image-checker, thumbnailer and catalog-images; no filter policy, each consumer "
                       "ignores the kind of object that is not its.",
        "producer": "mediaBucket",
        "producer_title": "the media bucket (S3) notifies",
        "message": "S3ObjectCreated",
    },
}

# S3's event notification, as far as shop_core::media::events reads it (the rest is ignored).
S3_NOTIFICATION = {
    "type": "object",
    "description": "An S3 event notification "
                   "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html): "
                   "ObjectCreated records of uploads/<sku>/<imageId> and thumbnails/<sku>/<imageId>/<size>.jpg, "
                   "or, once when the notification is configured, an s3:TestEvent without Records. Keys are "
                   "URL-encoded; the idempotency key of an object is bucket/key/eTag[/versionId].",
    "properties": {
        "Event": {"const": "s3:TestEvent"},
        "Records": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["eventName", "s3"],
                "properties": {
                    "eventName": {"type": "string", "description": "ObjectCreated:Put, :Post, :Copy, :CompleteMultipartUpload"},
                    "responseElements": {"type": "object", "properties": {"x-amz-request-id": {"type": "string"}}},
                    "s3": {
                        "type": "object",
                        "required": ["bucket", "object"],
                        "properties": {
                            "bucket": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                            "object": {
                                "type": "object",
                                "required": ["key", "size", "eTag"],
                                "properties": {
                                    "key": {"type": "string", "description": "URL-encoded"},
                                    "size": {"type": "integer", "minimum": 0},
                                    "eTag": {"type": "string"},
                                    "versionId": {"type": "string"},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt, !Sub…) as {"Tag": value}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


TemplateLoader.add_multi_constructor("!", _tag)


def ref_name(value):
    """The logical id a !Ref / !GetAtt X.Arn points to."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "GetAtt" in value:
            target = value["GetAtt"]
            return (target if isinstance(target, str) else ".".join(target)).split(".")[0]
    return None


def queue_name(logical_id, properties):
    """The queue's name: its QueueName (the stack name as a placeholder) or, for a queue
    CloudFormation names, the logical id the generated name starts with."""
    name = properties.get("QueueName")
    if isinstance(name, dict) and "Sub" in name:
        return name["Sub"]
    return "${AWS::StackName}-" + logical_id + "-<generated>"


def kebab(logical_id):
    return re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower()


def main():
    check = "--check" in sys.argv[1:]
    with open(os.path.join(REPO, "infra", "template.yaml")) as f:
        template = yaml.load(f, Loader=TemplateLoader)
    resources, parameters = template["Resources"], template.get("Parameters", {})

    def value(v):
        """A property's value; a !Ref to a parameter is its default (the AWS value)."""
        if isinstance(v, dict) and "Ref" in v and v["Ref"] in parameters:
            return parameters[v["Ref"]].get("Default")
        return v
    schemas = sorted(n[: -len(".v1.json")] for n in os.listdir(os.path.join(REPO, "events", "schemas"))
                     if n.endswith(".v1.json"))
    producers = {}
    envelopes_dir = os.path.join(REPO, "events", "envelopes")
    for name in sorted(os.listdir(envelopes_dir)):
        with open(os.path.join(envelopes_dir, name)) as f:
            envelope = json.load(f)
        producers.setdefault(envelope["source"], set()).add(envelope["eventType"])

    # Queues written to directly by the workflows: queue logical id -> event types, from every
    # sqs:sendMessage state (nested Map / Parallel states included).
    direct = {}

    def walk(states):
        for state in states.values():
            params = state.get("Parameters") or {}
            if "sqs:sendMessage" in state.get("Resource", "") and "MessageBody" in params:
                queue = re.fullmatch(r"\$\{(\w+)QueueUrl\}", params.get("QueueUrl", ""))
                event_type = params["MessageBody"].get("eventType")
                if queue and event_type:
                    direct.setdefault(queue.group(1) + "Queue", set()).add(event_type)
            for nested in [state.get("Iterator"), state.get("ItemProcessor")] + state.get("Branches", []):
                if nested:
                    walk(nested["States"])

    for asl in sorted(os.listdir(os.path.join(REPO, "statemachines"))):
        if asl.endswith(".asl.json"):
            with open(os.path.join(REPO, "statemachines", asl)) as f:
                # Numeric DefinitionSubstitutions (`"IntervalSeconds": ${X}`) are not JSON yet.
                text = re.sub(r":\s*\$\{\w+\}", ": 0", f.read())
            walk(json.loads(text)["States"])

    queues = {lid: r for lid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    subscriptions = {ref_name(r["Properties"]["Endpoint"]): r["Properties"]
                     for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"}
    topic_of = {lid: ref_name(s["TopicArn"]) for lid, s in subscriptions.items()}
    consumers = {}  # queue logical id -> function name
    for lid, r in resources.items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        for event in (r["Properties"].get("Events") or {}).values():
            if event.get("Type") == "SQS":
                consumers[ref_name(event["Properties"]["Queue"])] = r["Metadata"]["Binary"]

    channels = {
        "shopEvents": {
            "address": "${AWS::StackName}-events",
            "title": "The shop's events topic (SNS)",
            "description": "Every event published on the bus; fanned out to one queue per consumer. "
                           "`eventType` is also a message attribute, for attribute filter policies.",
            "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in schemas
                         if t not in set().union(*direct.values())},
            "bindings": {"sns": {"name": "${AWS::StackName}-events"}},
        }
    }
    for topic in sorted({topic_of[lid] for lid in consumers if topic_of.get(lid, EVENTS_TOPIC) != EVENTS_TOPIC}):
        foreign = FOREIGN_TOPICS[topic]
        name = resources[topic]["Properties"]["TopicName"]
        address = name["Sub"] if isinstance(name, dict) else name
        channels[foreign["channel"]] = {
            "address": address,
            "title": foreign["title"],
            "description": foreign["description"],
            "messages": {foreign["message"]: {"$ref": f"#/components/messages/{foreign['message']}"}},
            "bindings": {"sns": {"name": address}},
        }
    operations = {}
    for lid in sorted(consumers):
        queue = queues[lid]["Properties"]
        subscription = subscriptions.get(lid)
        foreign = FOREIGN_TOPICS.get(topic_of.get(lid, EVENTS_TOPIC))
        if foreign is not None:
            types = [foreign["message"]]
        elif subscription is not None:
            policy = subscription.get("FilterPolicy")
            types = sorted(policy["eventType"]) if policy else list(channels["shopEvents"]["messages"])
        else:
            types = sorted(direct.get(lid, []))
        dlq = ref_name(queue.get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        sqs_queue = {
            "name": queue_name(lid, queue),
            "fifoQueue": bool(queue.get("FifoQueue", False)),
            "deliveryDelay": queue.get("DelaySeconds", 0)
            if not isinstance(queue.get("DelaySeconds"), dict) else 0,
            "redrivePolicy": {"deadLetterQueue": {"name": queue_name(dlq, queues[dlq]["Properties"])},
                              "maxReceiveCount": value(queue["RedrivePolicy"]["maxReceiveCount"])},
        }
        channel = {
            "address": sqs_queue["name"],
            "title": f"{consumers[lid]}'s queue",
            "description": (
                ("Subscribed to the media bucket's topic without a filter policy: every notification; "
                 "raw message delivery (the body is S3's notification).")
                if foreign is not None else
                ("Subscribed to the events topic" + (
                    f" with the filter policy (scope {subscription.get('FilterPolicyScope', 'MessageAttributes')}) "
                    f"`{json.dumps(subscription['FilterPolicy'], sort_keys=True)}`"
                    if subscription.get("FilterPolicy") else " without a filter policy: every event")
                 + "; raw message delivery (the body is the envelope).")
                if subscription is not None else
                "Written to directly by the workflows (`sqs:sendMessage` in statemachines/*.asl.json).")
            + (" FIFO: ordered per MessageGroupId (the order id)." if sqs_queue["fifoQueue"] else "")
            + (" Delivery is delayed by the cancel window (parameter CancelWindowSeconds)."
               if isinstance(queue.get("DelaySeconds"), dict) else "")
            + f" After {sqs_queue['redrivePolicy']['maxReceiveCount']} receives a message moves to "
            + sqs_queue["redrivePolicy"]["deadLetterQueue"]["name"] + ".",
            "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in types},
            "bindings": {"sqs": {"queue": sqs_queue}},
        }
        if subscription is not None and subscription.get("FilterPolicy"):
            channel["x-filter-policy"] = subscription["FilterPolicy"]
            channel["x-filter-policy-scope"] = subscription.get("FilterPolicyScope", "MessageAttributes")
        name = re.sub(r"-(\w)", lambda m: m.group(1).upper(), kebab(lid))
        channels[name] = channel
        operations["receive" + name[0].upper() + name[1:]] = {
            "action": "receive",
            "title": f"{consumers[lid]} consumes",
            "summary": ("Partial batch failures, idempotent on each created object (bucket/key/eTag); "
                        "a record that cannot be decoded fails alone.") if foreign is not None else
                       "Partial batch failures, idempotent on eventId; a record that cannot be decoded fails alone.",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{t}"} for t in types],
        }
    for source in sorted(producers):
        types = sorted(producers[source])
        targets = [(name, ch) for name, ch in channels.items()
                   if (name == "shopEvents" and any(t in ch["messages"] for t in types))
                   or (name != "shopEvents" and "x-filter-policy" not in ch
                       and "Subscribed" not in ch["description"] and any(t in ch["messages"] for t in types))]
        for name, ch in targets:
            sent = [t for t in types if t in ch["messages"]]
            op = "send" + "".join(p.capitalize() for p in re.split(r"[-_]", source)) + name[0].upper() + name[1:]
            operations[op] = {
                "action": "send",
                "title": f"{source} publishes",
                "channel": {"$ref": f"#/channels/{name}"},
                "messages": [{"$ref": f"#/channels/{name}/messages/{t}"} for t in sent],
            }

    for topic, foreign in sorted(FOREIGN_TOPICS.items()):
        name = foreign["channel"]
        if name in channels:
            operations["send" + foreign["producer"][0].upper() + foreign["producer"][1:]
                       + name[0].upper() + name[1:]] = {
                "action": "send",
                "title": foreign["producer_title"],
                "channel": {"$ref": f"#/channels/{name}"},
                "messages": [{"$ref": f"#/channels/{name}/messages/{foreign['message']}"}],
            }

    messages = {}
    for t in schemas:
        messages[t] = {
            "name": t,
            "title": t,
            "contentType": "application/json",
            "summary": f"{t} v1 in the shop's event envelope.",
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {"type": "object",
                     "properties": {"eventType": {"const": t}, "eventVersion": {"const": 1},
                                    "detail": {"$ref": f"./schemas/{t}.v1.json"}}},
                ]
            },
        }
    foreign_schemas = {}
    if "mediaEvents" in channels:
        messages["S3ObjectCreated"] = {
            "name": "S3ObjectCreated",
            "title": "S3ObjectCreated",
            "contentType": "application/json",
            "summary": "S3's event notification of objects created in the media bucket (not an envelope).",
            "payload": {"$ref": "#/components/schemas/S3EventNotification"},
        }
        foreign_schemas["S3EventNotification"] = S3_NOTIFICATION
    document = {
        "asyncapi": "3.1.0",
        "info": {
            "title": "Shop events",
            "version": "1.0.0",
            "description": "The event flows of the shop backend: one SNS topic fanned out to one SQS "
                           "queue per consumer, plus the queues the workflows write to directly, "
                           "and the media bucket's S3 notifications fanned out to the media consumers. "
                           "Generated by events/asyncapi.py from infra/template.yaml, "
                           "statemachines/*.asl.json and events/schemas (from the Rust types).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {
                "Envelope": {
                    "type": "object",
                    "required": ["eventId", "eventType", "eventVersion", "occurredAt",
                                 "correlationId", "source", "detail"],
                    "properties": {
                        "eventId": {"type": "string", "description": "UUID; consumers are idempotent on it"},
                        "eventType": {"type": "string"},
                        "eventVersion": {"type": "integer", "minimum": 1},
                        "occurredAt": {"type": "string", "format": "date-time"},
                        "correlationId": {"type": "string"},
                        "source": {"type": "string", "description": "the function or workflow that published it"},
                        "detail": {"type": "object"},
                    },
                },
                **foreign_schemas,
            },
        },
    }
    text = "# Generated by events/asyncapi.py: do not edit (make schemas rewrites it).\n" + yaml.safe_dump(
        document, sort_keys=False, width=100, allow_unicode=True)
    if check:
        with open(OUT) as f:
            if f.read() != text:
                sys.exit("events/asyncapi.yaml is out of date: run `make schemas`")
        print("events/asyncapi.yaml is up to date")
    else:
        with open(OUT, "w") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(OUT, REPO)}")


if __name__ == "__main__":
    main()
