"""The benchmark's results: ratios to the ceilings, the targets of issue 7, a table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HOT_SLOT_EXPECTED = {"OK", "ALREADY_EXISTS", "ABORTED", "FAILED_PRECONDITION"}


def row_line(row: dict[str, Any]) -> str:
    return (
        f"  {row['name']:<18} {row['transport']:<4} c={row['concurrency']:<3} {row['rps']:>8.1f}/s "
        f"p50 {row['p50_ms']:>7.2f} p99 {row['p99_ms']:>8.2f} p99.9 {row['p999_ms']:>8.2f} ms "
        f"errors {row['errors']}  CPU: service {row.get('service_cpu', 0):.0%} "
        f"load {row.get('load_generator_cpu', 0):.0%} machine {row.get('machine_cpu') or 0:.0%}"
        + (f" {row['codes']}" if row["errors"] else "")
    )


def build(
    ceilings: dict[str, Any],
    results: list[dict[str, Any]],
    hot: dict[str, Any],
    soak: dict[str, Any],
    *,
    workers: int,
    quick: bool,
) -> dict[str, Any]:
    grpc_rows = {(r["name"], r["concurrency"]): r for r in results if r["transport"] == "grpc"}
    for row in results:
        ceiling = (
            ceilings["pgbench_create_tps"]
            if row["name"] in ("CreateBooking", "Lifecycle")
            else ceilings["echo_rpc_rps"]
        )
        row["ratio_to_ceiling"] = round(row["rps"] / ceiling, 3) if ceiling else None
        twin = grpc_rows.get((row["name"], row["concurrency"]))
        if row["transport"] == "rest" and twin and twin["rps"]:
            row["ratio_to_grpc"] = round(row["rps"] / twin["rps"], 3)
    return {
        "workers": workers,
        "quick": quick,
        "ceilings": ceilings,
        "results": results,
        "hot_slot": hot,
        "memory_soak": soak,
        "targets": targets(ceilings, results, hot, soak),
    }


def targets(
    ceilings: dict[str, Any], results: list[dict[str, Any]], hot: dict[str, Any], soak: dict[str, Any]
) -> list[dict[str, Any]]:
    def find(name: str, transport: str, concurrency: int) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in results
                if (r["name"], r["transport"], r["concurrency"]) == (name, transport, concurrency)
            ),
            None,
        )

    checks: list[dict[str, Any]] = []
    create64, create16 = find("CreateBooking", "grpc", 64), find("CreateBooking", "grpc", 16)
    if create64:
        ratio = create64["rps"] / ceilings["pgbench_create_tps"]
        checks.append(
            _check(
                "CreateBooking gRPC c=64 >= 50% of pgbench, no errors",
                f"{ratio:.0%}, {create64['errors']} errors",
                ratio >= 0.5 and create64["errors"] == 0,
            )
        )
    if create16:
        checks.append(
            _check("CreateBooking gRPC c=16 p99 < 25 ms", f"{create16['p99_ms']} ms", create16["p99_ms"] < 25)
        )
    gets = [r for r in results if r["name"] == "GetBooking" and r["transport"] == "grpc"]
    if gets:
        best = max(gets, key=lambda r: r["rps"])
        ratio = best["rps"] / ceilings["echo_rpc_rps"]
        checks.append(
            _check(
                "GetBooking gRPC >= 70% of the echo RPC",
                f"{ratio:.0%} (c={best['concurrency']})",
                ratio >= 0.7,
            )
        )
    rest = [r for r in results if "ratio_to_grpc" in r and r["concurrency"] > 1]
    if rest:
        worst = min(rest, key=lambda r: r["ratio_to_grpc"])
        checks.append(
            _check(
                "REST >= 80% of gRPC (c>1)",
                f"worst {worst['ratio_to_grpc']:.0%} ({worst['name']} c={worst['concurrency']})",
                worst["ratio_to_grpc"] >= 0.8,
            )
        )
    if hot:
        unexpected = {c: n for c, n in hot["codes"].items() if c not in HOT_SLOT_EXPECTED}
        checks.append(
            _check(
                "500 creates for one hot slot: only sold-out/conflict answers, one winner",
                f"{hot['codes']}, p99 {hot['p99_ms']} ms",
                not unexpected and hot["codes"].get("OK") == 1,
            )
        )
    if soak:
        checks.append(
            _check(
                "RSS flat within 10% over the soak",
                f"{soak['growth_percent']}%",
                abs(soak["growth_percent"]) <= 10,
            )
        )
    return checks


def _check(name: str, measured: str, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "met": met}


def table(summary: dict[str, Any]) -> str:
    c = summary["ceilings"]
    lines = [
        f"ceilings: pgbench CreateBooking SQL {c['pgbench_create_tps']:.0f} tx/s; "
        f"echo RPC {c['echo_rpc_rps']:.0f} calls/s   (workers: {summary['workers']})",
        "",
        "| call | transport | in flight | calls/s | p50 ms | p99 ms | p99.9 ms | errors "
        "| of ceiling | of gRPC |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary["results"]:
        lines.append(
            f"| {r['name']} | {r['transport']} | {r['concurrency']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['p999_ms']:.2f} | {r['errors']} | {_pct(r.get('ratio_to_ceiling'))} | "
            f"{_pct(r.get('ratio_to_grpc'))} |"
        )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    lines += [
        f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |" for t in summary["targets"]
    ]
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 6))
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in summary["results"]:
        series.setdefault((row["name"], row["transport"]), []).append(row)
    for (name, transport), rows in sorted(series.items()):
        rows.sort(key=lambda r: r["concurrency"])
        axes.plot(
            [r["rps"] for r in rows],
            [r["p99_ms"] for r in rows],
            marker="o",
            linestyle="-" if transport == "grpc" else "--",
            label=f"{name} ({transport})",
        )
    c = summary["ceilings"]
    axes.axvline(c["pgbench_create_tps"], color="grey", linestyle=":", label="pgbench create SQL")
    axes.axvline(c["echo_rpc_rps"], color="black", linestyle=":", label="echo RPC")
    axes.set_xlabel("calls/s (1, 16, 64 in flight)")
    axes.set_ylabel("p99 latency (ms)")
    axes.set_yscale("log")
    axes.set_title(f"booking-service: p99 latency against throughput (workers: {summary['workers']})")
    axes.legend(fontsize="small", ncol=2)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
