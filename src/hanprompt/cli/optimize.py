"""hanprompt optimize: propose better wordings of one variant, and prove the winner on held-out rows."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common
from hanprompt.errors import for_cli


def register(sub) -> None:
    p = sub.add_parser(
        "optimize", help="improve one variant of an experiment file, proven on held-out rows",
        description="Propose new wordings of one variant (built-in edits, or an optimizer model with --proposer), "
                    "rank them by the file's checks on a search share of the vars rows, and report the best "
                    "against the original on the held-out rows, with compare's interval and verdict.")
    p.add_argument("file", help="the experiment file (YAML); see examples/optimize-brief.yaml")
    p.add_argument("--variant", metavar="ID", help="the variant to improve (required unless --resume)")
    p.add_argument("--budget", type=int, metavar="N",
                   help="the most cells run (generations or cache hits) plus proposer calls (default 200)")
    p.add_argument("--proposer", metavar="SPEC",
                   help="a model that proposes prompts from the scores so far (OPRO); any model spec")
    p.add_argument("-m", "--model", action="append", metavar="SPEC", help="replace the file's models (repeatable)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the search / held-out split (default 0)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="the copy of the file with the winner added (default: FILE.optimized.yaml beside it)")
    p.add_argument("--resume", type=int, metavar="RUN_ID", help="finish the optimization with this run id")
    p.add_argument("--encoding", metavar="ENC", help="encoding of FILE when it has no byte-order mark")
    common.add_common(p)
    p.set_defaults(handler=optimize)


def optimize(args: argparse.Namespace) -> int:
    from hanprompt.errors import UsageError
    from hanprompt.experiments.optimize import DEFAULT_BUDGET, OptimizeInterrupted, optimize as run
    from hanprompt.experiments.runner import model_entries

    if args.resume is None and not args.variant:
        raise UsageError("--variant is required: name the variant to improve (its id in the file)")
    if args.resume is not None and (args.variant or args.budget is not None or args.proposer or args.model):
        raise UsageError("--resume takes the optimization's own --variant, --budget, --proposer and --model; "
                         "drop them")
    if args.output:
        from hanprompt import outputs

        outputs.check_output(args.output, "-o", example="optimized.yaml")

    def on_notice(text: str) -> None:
        print(f"hanprompt: note: {common.visible(for_cli(text), keep='')}", file=sys.stderr)

    try:
        with common.progress_bars("cells") as progress:
            result = run(args.file, variant=args.variant, budget=DEFAULT_BUDGET if args.budget is None else args.budget,
                         proposer=args.proposer, models=model_entries(args.model) if args.model else None,
                         seed=args.seed, output=args.output, resume=args.resume, db=args.db, progress=progress,
                         on_notice=on_notice, encoding=args.encoding)
    except OptimizeInterrupted as e:
        print(f"hanprompt: {'terminated' if e.terminated else 'interrupted'}; optimization {e.run_id} keeps its "
              f"finished rounds and cells; finish it with: {resume_command(args, e.run_id)}", file=sys.stderr)
        return 143 if e.terminated else 130
    if args.json:
        from dataclasses import asdict

        common.print_json(dict(asdict(result), output=str(result.output) if result.output else None))
        return 0
    render(result)
    return 0


def resume_command(args: argparse.Namespace, run_id: int) -> str:
    """The command that finishes optimization ``run_id``: the file, and the options a resume does not
    take from the run itself (where the copy goes, the file's encoding, the log), quoted for a shell."""
    import shlex

    parts = ["hanprompt", "optimize", str(args.file), "--resume", str(run_id)]
    for flag, value in (("-o", args.output), ("--encoding", args.encoding), ("--db", args.db)):
        if value:
            parts += [flag, str(value)]
    return common.visible(shlex.join(parts), keep="")


def render(r) -> None:
    """The search round by round, the held-out comparison, the outcome and what it cost; plain text."""
    out = sys.stdout
    v = common.visible
    s = r.split
    print(f"optimization {r.run_id} of variant {v(r.original, keep='')}: split by {v(s['var'], keep='')} "
          f"(seed {s['seed']}): search rows {', '.join(v(str(x), keep='') for x in s['search'])}; "
          f"held-out rows {', '.join(v(str(x), keep='') for x in s['held_out'])}", file=out)
    for rnd in r.rounds:
        print(f"round {rnd['round']} (run {rnd['run_id']}), search rows:", file=out)
        for c in rnd["candidates"]:
            score = f" · score {c['mean_score']:.2f}" if c["mean_score"] is not None else ""
            print(f"  {v(c['id'], keep='')}: {c['passed']}/{c['checked']} passed{score} ({v(c['origin'], keep='')})",
                  file=out)
    if r.winner:
        print(f"best on the search rows: {v(r.winner['id'], keep='')} ({r.winner['passed']}/{r.winner['checked']})",
              file=out)
        for m in r.winner["messages"]:
            print(f"  {m['role']}: {v(m['content'])}", file=out)
    if r.held_out:
        h = r.held_out
        ci = h["pass_rate_difference_ci"]
        diff = (f"Δ pass rate {h['pass_rate_difference'] * 100:+.0f} pt [{ci['low'] * 100:+.0f}, {ci['high'] * 100:+.0f}]"
                if ci else "Δ pass rate –")
        print(f"held-out rows (run {h['run_id']}): original {h['original']['passed']}/{h['original']['checked']}, "
              f"winner {h['winner']['passed']}/{h['winner']['checked']}; {diff}; verdict: {h['verdict']}", file=out)
    print(r.outcome, file=out)
    cost = f", cost {r.cost:.4g}" if r.cost is not None else ""
    print(f"spent: {r.generated} generations run, {r.cached} results reused, {r.proposer_calls} proposer calls"
          f"{cost}, {r.seconds:.0f} s", file=sys.stderr)
    if r.output:
        print(f"the winner is written as a new variant in {v(str(r.output), keep='')} (your file is unchanged)",
              file=sys.stderr)
    print(f"see the search in a report: hanprompt report {r.run_id}", file=sys.stderr)
