"""The readable form of a trace: source lines with changed variables, calls and returns
indented by depth, output interleaved. Only the CLI draws."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape
from rich.text import Text


def _vars(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def render(records: Iterable[dict], source_lines: list[str], console: Console) -> None:
    for r in records:
        kind = r["kind"]
        pad = "  " * r.get("depth", 0)
        if kind == "header":
            console.print(f"[bold]{escape(r['source'])}[/] [dim]({r['language']}, backend {r.get('backend')}, "
                          f"sandbox {r.get('sandbox')})[/]")
        elif kind == "line":
            text = source_lines[r["line"] - 1].strip() if 0 < r["line"] <= len(source_lines) else ""
            line = Text(f"{r['line']:>5} │ {pad}{text}")
            if r["vars"]:
                line.append(f"    {_vars(r['vars'])}", style="cyan")
            console.print(line)
        elif kind == "call":
            console.print(Text(f"      │ {pad}→ {r['func']}({_vars(r['args'])})", style="green"))
        elif kind == "return":
            value = "" if r["value"] is None else f" = {r['value']}"
            console.print(Text(f"      │ {pad}← {r['func']}{value}", style="green"))
        elif kind == "exception":
            console.print(Text(f"{r['line']:>5} │ {pad}✗ {r['type']}: {r['message']}", style="red"))
        elif kind == "output":
            for chunk in r["text"].splitlines() or [""]:
                style = "yellow" if r["stream"] == "stdout" else "magenta"
                console.print(Text(f"{r['stream']:>6}│ {chunk}", style=style))
        elif kind == "footer":
            style = "bold green" if r["status"] == "ok" else "bold red"
            extra = f", truncated ({r.get('truncation')})" if r.get("truncated") else ""
            reason = f": {r['reason']}" if r.get("reason") else ""
            console.print(Text(f"{r['status']}{reason} — exit {r.get('exit_code')}, {r['events']} events{extra}",
                               style=style))
