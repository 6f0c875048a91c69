"""`make mutation`: mutmut over the rules that must never silently break, then the score per module.

The modules and the test files are in pyproject.toml (`[tool.mutmut]`). mutmut copies the apps
into `mutants/`, runs the listed test files once to learn which tests reach which function, then
runs each mutant against only those tests. It runs embedded (SQLite, local-memory cache, no
Redis), so it needs no service; results are kept in `mutants/`, so a second run only tries
mutants whose function changed (`--module` retries a module's mutants whatever they were).

    make mutation                                  # every module, then the scores
    make mutation MUTATION_ARGS="--module audits.chain --module accounts.tokens"
    make mutation MUTATION_ARGS="--scores"         # the scores of the last runs only
    make mutation MUTATION_ARGS="--survivors"      # also list each surviving mutant
    .venv/bin/mutmut show NAME                     # the diff of one mutant

Slow (minutes to an hour, one mutant at a time at nice 15): not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "mutants"

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code), folded to what we report.
STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    33: "no tests",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    None: "not checked",
}


@dataclass
class ModuleScore:
    module: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    @property
    def detected(self) -> int:
        return self.counts["killed"] + self.counts["timeout"]

    @property
    def tried(self) -> int:
        return self.detected + self.counts["survived"] + self.counts["other"]

    @property
    def score(self) -> float | None:
        return 100 * self.detected / self.tried if self.tried else None


def configured_modules() -> list[str]:
    """The dotted names of the files `[tool.mutmut] only_mutate` lists."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return [path.removesuffix(".py").replace("/", ".") for path in config["only_mutate"]]


def module_scores(modules: list[str]) -> list[ModuleScore]:
    scores = []
    for module in modules:
        score = ModuleScore(module)
        meta = MUTANTS / (module.replace(".", "/") + ".py.meta")
        if meta.exists():
            exit_codes = json.loads(meta.read_text())["exit_code_by_key"]
            for name, code in sorted(exit_codes.items()):
                status = STATUS.get(code, "other")
                score.counts[status] += 1
                if status in ("survived", "other"):
                    score.survivors.append(name)
        scores.append(score)
    return scores


def print_scores(scores: list[ModuleScore], *, survivors: bool) -> None:
    header = (
        f"{'module':<34} {'killed':>6} {'survived':>8} {'timeout':>7} {'no tests':>8} "
        f"{'pending':>7} {'score':>7}"
    )
    print(header)
    print("-" * len(header))
    total = ModuleScore("total")
    for score in scores:
        total.counts.update(score.counts)
        print(_row(score))
    print("-" * len(header))
    print(_row(total))
    print(
        "score = (killed + timeout) / (killed + timeout + survived); 'no tests': "
        "no selected test reaches the function; 'pending': not tried yet"
    )
    if survivors:
        for score in scores:
            for name in score.survivors:
                print(f"  survived: {name}")


def _row(score: ModuleScore) -> str:
    c = score.counts
    value = "-" if score.score is None else f"{score.score:.1f}%"
    return (
        f"{score.module:<34} {c['killed']:>6} {c['survived'] + c['other']:>8} "
        f"{c['timeout']:>7} {c['no tests']:>8} {c['not checked']:>7} {value:>7}"
    )


def mutmut_run(patterns: list[str], *, children: int) -> int:
    """mutmut in the embedded configuration, at low priority (the machine is shared)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # The mutants share one test database (--reuse-db); a mutant stopped at its time limit
    # inside a transactional test leaves rows behind, so each run starts from a new one.
    for stale in (MUTANTS / "var").glob("test.sqlite3*"):
        stale.unlink()
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(children), *patterns]
    return subprocess.call(command, cwd=ROOT, env=env)


def _matches(module: str, patterns: list[str]) -> bool:
    return any(pattern.startswith(f"{module}.") for pattern in patterns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module",
        action="append",
        default=[],
        help="retry only this module's mutants (dotted, e.g. audits.chain); repeatable",
    )
    parser.add_argument(
        "--mutants",
        action="append",
        default=[],
        help="retry only the mutants matching this mutmut pattern "
        "(e.g. 'accounts.tokens.x_refresh_token_read*'); repeatable",
    )
    parser.add_argument("--children", type=int, default=1, help="mutants run at once (1)")
    parser.add_argument("--nice", type=int, default=15, help="niceness of the run (15)")
    parser.add_argument("--scores", action="store_true", help="print the last scores, run nothing")
    parser.add_argument("--survivors", action="store_true", help="list the surviving mutants")
    args = parser.parse_args(argv)

    modules = configured_modules()
    unknown = sorted(set(args.module) - set(modules))
    if unknown:
        parser.error(f"not in [tool.mutmut] only_mutate: {', '.join(unknown)}")
    if not args.scores:
        os.nice(args.nice)
        patterns = [f"{module}.*" for module in args.module] + args.mutants
        code = mutmut_run(patterns, children=args.children)
        if code != 0:
            print(f"mutmut exited {code}", file=sys.stderr)
            return code
    shown = args.module or [m for m in modules if not args.mutants or _matches(m, args.mutants)]
    print_scores(module_scores(shown), survivors=args.survivors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
