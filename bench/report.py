"""Markdown for bench/results.md (and the tables of bench/README.md)."""

from __future__ import annotations


def _f(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def _mmm(s: dict | None, digits=2) -> str:
    """median (min..max)"""
    if not s or not s.get("n"):
        return "–"
    return f"{_f(s['median'], digits)} ({_f(s['min'], digits)}..{_f(s['max'], digits)})"


def _pp(s: dict | None, digits=2) -> str:
    if not s or not s.get("n"):
        return "–"
    return " / ".join(_f(s[k], digits) for k in ("p50", "p90", "p99"))


def _mb(b):
    return "–" if b is None else f"{b / 1e6:.2f}"


def busy(result: dict) -> list[str]:
    """Reasons to distrust the run (empty when the machine looked quiet). Other work is
    sampled from /proc/stat for 1 s before each function, while the bench is idle (LocalStack
    and the bench's own load during measuring are expected and not counted)."""
    notes = []
    for f in result["functions"]:
        other = f.get("cpu_busy_before")
        if other is not None and other > 0.25:
            notes.append(f"{f['function']}: {other * 100:.0f} % of the CPUs busy with other work just before")
        init = (f.get("cold") or {}).get("init_ms") or {}
        if init.get("n") and init["min"] > 0 and init["max"] / init["min"] > 3:
            notes.append(f"{f['function']}: init spread {init['min']:.1f}..{init['max']:.1f} ms (max/min > 3)")
    return notes


def call_cost_fit(result: dict) -> dict | None:
    """Least-squares fit over every sample event: beyond-AWS p50 = a + b x (AWS calls per
    invocation). ``a`` is the handler's own work, ``b`` what each SDK call costs on our side."""
    points = []
    for f in result["functions"]:
        for s in ((f.get("warm") or {}).get("per_event") or {}).values():
            p50 = (s.get("beyond_aws_ms") or {}).get("p50")
            if p50 is not None and p50 < 10:  # leave out deliberate CPU work (password hashing)
                points.append((sum(s["aws_calls_per_invocation"].values()), p50))
    if len(points) < 3 or len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    zero = [y for x, y in points if x == 0]
    return {"a_ms": my - b * mx, "b_ms_per_call": b, "events": n,
            "no_call_events_p50_ms": sorted(zero)[len(zero) // 2] if zero else None}


def floor_p50(result: dict) -> float | None:
    """Warm p50 of the empty function (bench/baseline) under the same harness."""
    return (((result.get("floor") or {}).get("warm") or {}).get("duration_ms") or {}).get("p50")


def _target_rows(result: dict) -> list[str]:
    t = result["targets"]
    floor = floor_p50(result)
    rows = []

    def judge(value, limit):
        if value is None:
            return "not measured"
        if value <= limit:
            return f"met ({value:.2f})"
        return f"**missed** by {value - limit:.2f} ({value:.2f})"

    for f in result["functions"]:
        if f.get("skipped"):
            rows.append(f"| {f['function']} | {f['skipped']} | | | | | |")
            continue
        cold, warm, sizes = f.get("cold", {}), f.get("warm", {}), f.get("sizes", {})
        zips = [sizes.get(a, {}).get("zip_bytes") for a in ("x86_64", "arm64")]
        zip_txt = " / ".join(judge(z / 1e6, t["zip_mb"]) if z else "not measured" for z in zips)
        rss = max(filter(None, [warm.get("peak_rss_mb"), (cold.get("peak_rss_mb_after_first") or {}).get("max")]),
                  default=None)
        over = (warm.get("beyond_aws_ms") or {}).get("p50")
        rows.append(
            f"| {f['function']} | {judge((cold.get('init_ms') or {}).get('median'), t['init_ms'])} "
            f"| {judge((cold.get('first_invoke_beyond_aws_ms') or {}).get('median'), t['first_invoke_beyond_aws_ms'])} "
            f"| {judge(rss, t['peak_rss_mb'])} | {zip_txt} "
            f"| {judge(over, t['warm_beyond_aws_p50_ms'])} "
            f"| {judge(over - floor if over is not None and floor is not None else None, t['warm_beyond_aws_p50_ms'])} |"
        )
    return rows


def _floor_lines(result: dict) -> list[str]:
    fl = result.get("floor")
    if not fl:
        return []
    if fl.get("skipped"):
        return ["", f"Floor (bench/baseline, an empty function): {fl['skipped']}."]
    cold, warm = fl.get("cold", {}), fl.get("warm", {})
    zip_bytes = (fl.get("sizes", {}).get("x86_64") or {}).get("zip_bytes")
    return ["", (
        f"Floor: bench/baseline, a function that does nothing (same runtime, logging and release profile; it "
        f"answers catalog-api's sample events with a constant), under the same harness: init "
        f"{_f((cold.get('init_ms') or {}).get('median'))} ms, warm p50/p90/p99 {_pp(warm.get('duration_ms') or {})} ms, "
        f"peak RSS {_f(warm.get('peak_rss_mb'), 1)} MB, zip {_mb(zip_bytes)} MB. That warm time is the Runtime API "
        f"round trip through the bench's Python harness plus lambda_runtime's own event handling; every function's "
        f"warm figure includes it, so the targets table also shows warm beyond AWS net of it.")]


def _checkout_line(ck) -> str:
    if isinstance(ck, str):
        return f"- **Checkout: {ck}.**"
    parts = ", ".join(f"{k} ${v:.2f}" for k, v in ck["parts"].items())
    missing = f" (unmeasured, left out: {', '.join(ck['missing'])})" if ck["missing"] else ""
    if "paths" in ck:  # both paths priced from their measured runs: the table below has the split
        approval = ck["paths"].get("approval")
        other = (f"; approval path ${approval['per_million_usd']:.0f}" if isinstance(approval, dict)
                 else f"; approval path {approval}")
        return (f"- **Checkout per 1 M, unattended: ${ck['per_million_usd']:.0f}**{missing}{other} (split per path "
                f"below). Unattended: {parts}; workflow tasks: "
                + ", ".join(f"{k} ×{v}" for k, v in ck["workflow_tasks"].items()) + f". Assumed: {ck['assumptions']}.")
    return (f"- **Checkout per 1 M: ${ck['per_million_usd']:.0f}**{missing} — {parts}. {ck['state_transitions']} state "
            f"transitions per order; workflow tasks: " + ", ".join(f"{k} ×{v}" for k, v in ck["workflow_tasks"].items())
            + f". Assumed: {ck['assumptions']}.")


def _checkout_split(ck) -> list[str]:
    """The checkout's cost per path (bench/cost.py's split_table), with a line per path on how
    it was measured and what it includes."""
    if isinstance(ck, str) or "paths" not in ck:
        return []
    import cost

    out = ["", "Checkout per path, per 1 M checkouts (Step Functions = its runs: Express per request + GB-s, "
               "Standard per state transition; total = with the API, Lambda, DynamoDB, SNS and SQS of the path):", ""]
    out += cost.split_table(ck) + [""]
    for name, path in ck["paths"].items():
        if isinstance(path, dict):
            how = path["note"] or (f"measured on order {path['order']}" if path["measured"] else "estimated")
            extra = f"; unmeasured, left out: {', '.join(path['missing'])}" if path["missing"] else ""
            # The unattended path's parts are in the checkout line above.
            parts = "" if name == "unattended" else "; parts: " + ", ".join(
                f"{k} ${v:.2f}" for k, v in path["parts"].items())
            out.append(f"- {name}: {how}{extra}{parts}")
    return out


# The hot routes, their sample events behind the authorizer (as on AWS) and without it (as on
# LocalStack, which runs no REST authorizers, so the function authenticates itself), and the
# target for sequential round trips behind the authorizer.
HOT_ROUTES = [
    ("GET /cart", "cart-api", "get-cart-with-authorizer-context", "get-cart", 2),
    ("PUT /cart/items/{sku}", "cart-api", "put-item-with-authorizer-context", "put-item", 3),
    ("POST /checkout", "checkout-api", "checkout-with-authorizer-context", "checkout", 3),
]


def _hot_routes(result: dict) -> list[str]:
    by_event = {
        (f["function"], ev): s
        for f in result["functions"]
        for ev, s in ((f.get("warm") or {}).get("per_event") or {}).items()
    }

    def cell(function: str, event: str) -> str:
        s = by_event.get((function, event))
        if not s:
            return "–"
        seq = s.get("sequential_round_trips") or {}
        calls = sum(s["aws_calls_per_invocation"].values())
        trips = f"{seq['median']:g}" if seq.get("n") else "?"
        return f"{calls:g} calls, **{trips}** in turn, {_f(s['duration_ms'].get('p50'))} ms p50"

    out = [
        "### Round trips on the hot routes",
        "",
        "AWS calls per request and how many of them the function waited for one after another "
        "(measured at the proxy in front of LocalStack, per invocation); warm p50 of the function.",
        "",
        "| route | behind the authorizer (AWS) | target | without it (LocalStack: the function authenticates) |",
        "|---|---|---|---|",
    ]
    for route, function, authorized, plain, target in HOT_ROUTES:
        out.append(f"| {route} | {cell(function, authorized)} | ≤ {target} | {cell(function, plain)} |")
    return out + [""]


def _thumbnailer(t: dict | None) -> list[str]:
    """The thumbnailer's table (bench/thumbnail.py renders it)."""
    if not t:
        return []
    import thumbnail

    return thumbnail.table(t)


def _delivery(d: dict | None) -> list[str]:
    if not d or d.get("status") != "measured-delivery":
        return []
    lat, idle = d["latency_ms"], d.get("idle_cpu") or {}
    lost = d["not_seen_within_s"]
    share = idle.get("share_of_one_core")
    return [
        "### Event delivery on the local stack (publish → consumer effect)",
        "",
        "| events | p50 ms | p90 ms | max ms | not seen within {t:g} s | LocalStack idle CPU | polling |".format(
            t=lost["timeout_s"]),
        "|---|---|---|---|---|---|---|",
        f"| {d['events']} ({d['consumer']}) | **{_f(lat.get('p50'), 0)}** | {_f(lat.get('p90'), 0)} | **{_f(lat.get('max'), 0)}** "
        f"| {lost['count']} | {_f(share * 100 if share is not None else None, 1)} % of one core "
        f"| {idle.get('polling', '?')} |",
        "",
        d["note"] + ". Target: p50 ≤ 400 ms, max ≤ 1 s.",
        "",
    ]


def markdown(result: dict) -> str:
    m = result["machine"]
    p = result["parameters"]
    out = [
        f"Run {result['date']} at `{result['git']}` on {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, "
        f"Linux {m['kernel']}, {m['rustc']}. Load average {result['loadavg_start'][0]:.2f} at start, "
        f"{result['loadavg_end'][0]:.2f} at end. {p['cold_starts']} cold starts and {p['warm_rounds']} warm "
        f"rounds of every sample event per function; `make bench` took {result.get('elapsed_s', 0):.0f} s.",
        "",
    ]
    if result.get("busy"):
        out += ["**Busy machine — read the spreads, not just the medians:** " + "; ".join(result["busy"]) + ".", ""]
    else:
        out += ["The machine looked quiet: ≤ 25 % CPU used by other work before each function, init spread "
                "max/min ≤ 3 (LocalStack's own load while serving the bench is part of every figure).", ""]

    out += [
        "### Per function (release bootstrap, real SDK clients and logging, against LocalStack)",
        "",
        "| function | init ms | 1st invoke ms | 1st invoke beyond AWS ms | warm ms p50/p90/p99 "
        "| warm beyond AWS ms p50/p90/p99 | peak RSS MB | binary MB | zip MB x86_64 | zip MB arm64 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in result["functions"]:
        s = f.get("sizes", {})
        if f.get("skipped"):
            out.append(f"| {f['function']} | {f['skipped']} | | | | | | {_mb(s.get('x86_64', {}).get('binary_bytes'))} "
                       f"| {_mb(s.get('x86_64', {}).get('zip_bytes'))} | {_mb(s.get('arm64', {}).get('zip_bytes'))} |")
            continue
        cold, warm = f.get("cold", {}), f.get("warm", {})
        out.append(
            f"| {f['function']} | {_mmm(cold.get('init_ms'))} | {_mmm(cold.get('first_invoke_ms'))} "
            f"| {_mmm(cold.get('first_invoke_beyond_aws_ms'))} | {_pp(warm.get('duration_ms'))} "
            f"| {_pp(warm.get('beyond_aws_ms'))} | {_f(warm.get('peak_rss_mb'), 1)} "
            f"| {_mb(s.get('x86_64', {}).get('binary_bytes'))} | {_mb(s.get('x86_64', {}).get('zip_bytes'))} "
            f"| {_mb(s.get('arm64', {}).get('zip_bytes'))} |"
        )
    arm = result.get("build", {}).get("arm64")
    out += ["", "Medians with (min..max). " + (f"arm64: {arm}." if arm else "")]
    fit = call_cost_fit(result)
    if fit:
        out += ["", f"Where the warm time beyond AWS goes (fit over {fit['events']} sample events, p50): "
                    f"≈ {fit['a_ms']:.2f} ms of handler work (routing, JSON, logging, Runtime API round trip) "
                    f"+ {fit['b_ms_per_call']:.2f} ms per AWS call on our side (SDK serialisation, SigV4 signing, "
                    f"endpoint resolution, response parsing, and ≲0.1 ms of the bench's own proxy hop). Events "
                    f"that make no AWS call: median p50 {_f(fit['no_call_events_p50_ms'])} ms."]
    out += _floor_lines(result)
    calls = [f"{f['function']}: {f['cold']['aws_calls_during_init']}" for f in result["functions"] if f.get("cold")]
    out += [f"AWS calls made during init (should be 0): {', '.join(calls)}.", ""]

    out += [
        "### Targets",
        "",
        f"| function | init ≤ {result['targets']['init_ms']} ms (median) "
        f"| 1st invoke ≤ {result['targets']['first_invoke_beyond_aws_ms']} ms beyond AWS "
        f"| peak RSS ≤ {result['targets']['peak_rss_mb']} MB | zip ≤ {result['targets']['zip_mb']} MB (x86_64 / arm64) "
        f"| warm beyond AWS p50 ≤ {result['targets']['warm_beyond_aws_p50_ms']} ms "
        f"| the same, net of the floor |",
        "|---|---|---|---|---|---|---|",
    ] + _target_rows(result) + [""]

    out += _hot_routes(result)
    out += [
        "### Warm invocations per sample event",
        "",
        "| function / event | status | ms p50 | AWS ms p50 | beyond AWS ms p50/p90/p99 | AWS calls per invocation | sequential round trips p50 (max) | RRU | WRU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in result["functions"]:
        for ev, s in ((f.get("warm") or {}).get("per_event") or {}).items():
            calls = ", ".join(f"{op} {n:g}" for op, n in s["aws_calls_per_invocation"].items()) or "none"
            status = ", ".join(f"{k}×{v}" for k, v in s["status"].items())
            seq = s.get("sequential_round_trips") or {}
            trips = f"{seq['median']:g} ({seq['max']:g})" if seq.get("n") else "–"
            out.append(
                f"| {f['function']} / {ev} | {status} | {_f(s['duration_ms'].get('p50'))} | {_f(s['aws_ms'].get('p50'))} "
                f"| {_pp(s['beyond_aws_ms'])} | {calls} | {trips} | {_f(s['read_units_per_invocation'], 1)} "
                f"| {_f(s['write_units_per_invocation'], 1)} |"
            )
    out += [""]
    out += _thumbnailer(result.get("thumbnailer"))

    out += [
        "### End to end through LocalStack (API Gateway REST → executor → function → DynamoDB Local)",
        "",
        "| scenario | requests × concurrency | rps | latency ms p50 / p99 | in function ms p50 / p99 "
        "| in function (mean) | emulator + gateway (mean) | HTTP status |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in result["e2e"]:
        if e.get("status") == "measured-workflow":
            lat = e["latency_ms"]
            inside = ", ".join(f"{k.rsplit('-', 1)[-1]} {_f(v, 1)} ms" for k, v in e["functions_in_workflow_p50_ms"].items())
            share = e.get("share_in_functions")
            out.append(
                f"| {e['name']} | {e['requests']} × {e['concurrency']} | | {_f(lat.get('p50'), 0)} / {_f(lat.get('p99'), 0)} "
                f"| Lambda tasks p50: {inside} | {_f(share * 100 if share else None, 0)} % in Lambda tasks | the rest: "
                f"Step Functions + its DynamoDB/SQS/SNS calls | final: {', '.join(f'{k}×{v}' for k, v in e['final_status'].items())} |")
            continue
        if e.get("status") == "measured-drain":
            out.append(
                f"| {e['name']} | {e['messages']} messages, batch ≤ {e['batch_size']} | **{_f(e['messages_per_s'], 0)} msg/s** "
                f"| drained in {_f(e['drain_s'], 1)} s (sending took {_f(e['send_s'], 1)} s) | {e['consumer']} | | | |")
            continue
        if e.get("status") != "measured":
            out.append(f"| {e['name']} | {e['status']} | | | | | | |")
            continue
        lat, fn = e["latency_ms"], e["function_duration_ms"]
        share = e.get("share_in_function")
        emu = (e["mean_latency_ms"] - e["mean_function_ms"]) if e.get("mean_function_ms") else None
        out.append(
            f"| {e['name']} | {e['requests']} × {e['concurrency']} | {_f(e['throughput_rps'], 0)} "
            f"| {_f(lat.get('p50'), 1)} / {_f(lat.get('p99'), 1)} | {_f(fn.get('p50'), 1)} / {_f(fn.get('p99'), 1)} "
            f"| {_f(e.get('mean_function_ms'), 1)} ms ({_f(share * 100 if share else None, 0)} %) | {_f(emu, 1)} ms "
            f"| {', '.join(f'{k}×{v}' for k, v in e['http_status'].items())} |"
        )
    out += [
        "",
        "In-function time is the executor's REPORT `Duration` (the function's share includes its DynamoDB Local "
        "calls); the rest is LocalStack's API Gateway, Lambda service and our executor's hand-off.",
    ]
    levels = sorted({e["function_log_level"] for e in result["e2e"] if e.get("function_log_level")})
    if levels and levels != ["info"]:
        out += [f"The local stack runs these functions with `RUST_LOG={'/'.join(levels)}` (samconfig `local`): "
                "their SDK debug logging is part of the in-function time here; the per-function figures above "
                "run them at `info`, as on AWS."]
    out += [""]
    out += _delivery(result.get("delivery"))

    c = result["cost"]
    out += [
        f"### Cost estimate on AWS per 1 million requests (arm64, 128 MB; prices {c['prices_date']})",
        "",
        "| function / event | billed ms | RRU | WRU | Lambda $ | API Gateway $ | DynamoDB $ | Logs $ | total $ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in c["per_request"]:
        out.append(
            f"| {r['function']} / {r['event']} | {r['billed_ms']} | {_f(r['rru'], 1)} | {_f(r['wru'], 1)} "
            f"| {_f(r['lambda_usd'])} | {_f(r['apigw_usd'])} | {_f(r['dynamodb_usd'])} | {_f(r['logs_usd'])} "
            f"| {_f(r['total_usd'])} |"
        )
    j = c["journey"]
    total = _f(j["total_usd"]) if j["total_usd"] is not None else f"incomplete (missing {', '.join(j['missing'])})"
    out += [
        "",
        f"- **{j['label']}: ${total}**",
        _checkout_line(c["checkout"]),
        "- INIT per 1 M cold starts: " + ", ".join(
            f"{i['function']} {i['init_billed_ms']} ms → ${i['usd_per_million_cold_starts']:.3f}" for i in c["init"]),
        "- Prices: " + c["prices_text"] + ".",
        "- Assumptions: " + "; ".join(c["assumptions"]) + ".",
        *_checkout_split(c["checkout"]),
        "",
        "Method: " + "; ".join(f"**{k}** = {v}" for k, v in result["method"].items()) + ".",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":  # re-render bench/results.md (and bench/README.md's tables) from results.json
    import json
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    import run

    md = markdown(json.loads((here / "results.json").read_text()))
    (here / "results.md").write_text(md)
    run.update_readme(md)
    print(md)
