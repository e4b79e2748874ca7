"""Dead letters are handled, not drained: list, inspect and replay what the workers gave up on.

``python -m shared.dlq list|show|replay`` reads the ``<topic>.dlq`` topics from their start without
joining a consumer group (it commits nothing and never takes partitions from a worker), on Kafka or on
the embedded event log, with the settings and topic prefix of :meth:`Settings.from_env`.

Why a replay is safe: a dead-lettered event was never recorded in ``processed_events`` (its handler's
transaction rolled back), so once the cause is fixed the replayed event is handled exactly once, and a
second replay of it is a duplicate that every consumer group skips by event id. Replays are remembered as
marker messages in ``<topic>.dlq.replayed`` (key: the dead letter's position) so that ``list`` can say
which dead letters were replayed; the markers are bookkeeping only, the deduplication does not need them.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.config import Settings
from shared.contracts.events import TOPICS, EventValidationError, dlq_topic
from shared.instants import instant_text
from shared.messaging.backends import ensure_topics, make_producer, read_topic
from shared.messaging.bus import OutgoingMessage, StoredMessage
from shared.messaging.codec import KafkaMessage, from_message

REASON_WIDTH = 60
REPLAYED_FROM = "dlq_replayed_from"


def marker_topic(dead_letter_topic: str) -> str:
    """Where replays of ``<topic>.dlq`` are recorded."""
    return f"{dead_letter_topic}.replayed"


@dataclass(frozen=True)
class DeadLetter:
    message: StoredMessage
    replayed: bool

    def summary(self) -> dict[str, Any]:
        """What ``list`` shows: ids, origin and reason, never the event's data (it may hold contact details).

        The reason is cut at its first line: a database error's later lines quote the statement's parameters.
        """
        m = self.message
        return {
            "dlq_topic": m.topic, "position": m.position, "partition": m.partition, "offset": m.offset,
            "time": _iso(m.timestamp), "type": m.header("ce_type"), "event_id": m.header("ce_id"),
            "subject": m.header("ce_subject"), "source_topic": m.header("dlq_source_topic"),
            "source_offset": m.header("dlq_source_offset"), "group": m.header("dlq_consumer_group"),
            "reason": m.header("dlq_reason").splitlines()[0] if m.header("dlq_reason") else "",
            "replayed": self.replayed,
        }


def dead_letters(settings: Settings, source_topics: Iterable[str] = TOPICS) -> list[DeadLetter]:
    """The dead letters of the given source topics, each marked replayed or not."""
    letters = []
    for source in source_topics:
        topic = dlq_topic(source)
        replayed = {m.key for m in read_topic(settings, marker_topic(topic))}
        letters += [DeadLetter(m, m.position in replayed) for m in read_topic(settings, topic)]
    return letters


def replay_problem(letter: DeadLetter) -> str | None:
    """Why a dead letter cannot be replayed: without a CloudEvent id no consumer could handle or dedupe it."""
    m = letter.message
    try:
        from_message(KafkaMessage(headers=m.headers, key=m.key, value=m.value))
    except EventValidationError as exc:
        return f"{exc}; fix its producer, a replay would only dead-letter it again"
    return None


def replay(settings: Settings, letters: Sequence[DeadLetter]) -> None:
    """Re-publish each dead letter to its source topic as it was, then record that it was replayed.

    The marker is written after the replay: a crash in between leaves a replay that ``list`` does not
    show, and replaying it again is harmless (the consumers skip the event id they handled).
    """
    if not letters:
        return
    replays = []
    markers = []
    for letter in letters:
        m = letter.message
        headers = {k: v for k, v in m.headers.items() if not k.startswith("dlq_")}
        headers[REPLAYED_FROM] = f"{m.topic}:{m.position}".encode()
        replays.append(OutgoingMessage(m.topic.removesuffix(".dlq"), m.key, headers, m.value))
        markers.append(OutgoingMessage(marker_topic(m.topic), m.position,
                                       {"ce_id": m.headers.get("ce_id", b""),
                                        "dlq_replayed_at": _iso(time.time()).encode()}, b""))
    ensure_topics(settings, {marker.topic for marker in markers})
    producer = make_producer(settings, "yangpu-dlq")
    try:
        producer.send_batch(replays)
        producer.send_batch(markers)
    finally:
        producer.close()


def find(letters: Sequence[DeadLetter], topic: str, position: str) -> DeadLetter:
    """The dead letter at ``partition:offset`` (or a bare offset, if only one partition has it)."""
    topic = topic if topic.endswith(".dlq") else dlq_topic(topic)
    if ":" in position:
        matches = [d for d in letters if d.message.topic == topic and d.message.position == position]
    else:
        matches = [d for d in letters if d.message.topic == topic and str(d.message.offset) == position]
    if not matches:
        raise LookupError(f"no dead letter at {topic} {position}")
    if len(matches) > 1:
        raise LookupError(f"offset {position} of {topic} is in several partitions; give partition:offset, "
                          f"one of {', '.join(d.message.position for d in matches)}")
    return matches[0]


def _iso(timestamp: float) -> str:
    return instant_text(datetime.fromtimestamp(timestamp, UTC))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


# --- the command line ---------------------------------------------------------------------------


def _list(settings: Settings, args: argparse.Namespace) -> int:
    """one line per dead letter: ids, origin, reason; never the event's data"""
    letters = dead_letters(settings, [args.topic] if args.topic else TOPICS)
    rows = [d.summary() for d in letters]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no dead letters")
        return 0
    table = [["DLQ TOPIC", "POSITION", "TIME", "TYPE", "EVENT ID", "SUBJECT", "SOURCE", "GROUP", "REPLAYED",
              "REASON"]]
    table += [[r["dlq_topic"], r["position"], r["time"], r["type"], r["event_id"], r["subject"],
               f"{r['source_topic']}@{r['source_offset']}", r["group"], "yes" if r["replayed"] else "no",
               _clip(r["reason"], REASON_WIDTH)] for r in rows]
    widths = [max(len(row[i] or "-") for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join((cell or "-").ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    """headers and data of one dead letter (the data may contain contact details)

    Print one dead letter's headers and its JSON value. The value is the event's data and may contain
    personal data (enterprise contact names and phone numbers): do not paste it into tickets or chats.
    """
    letter = find(dead_letters(settings), args.dlq_topic, args.position)
    m = letter.message
    print(f"{m.topic} {m.position}  dead-lettered {_iso(m.timestamp)}  replayed: {'yes' if letter.replayed else 'no'}")
    print(f"key: {m.key}")
    print("headers:")
    for name, value in sorted(m.headers.items()):
        print(f"  {name}: {value.decode(errors='replace')}".replace("\n", "\n    "))
    print("value:")
    try:
        print(json.dumps(json.loads(m.value), ensure_ascii=False, indent=2))
    except ValueError:
        print(m.value.decode(errors="replace"))
    return 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    """re-publish dead letters to their source topic, once the cause is fixed

    Re-publish dead letters to their source topic with their original key, value and ce_* headers (plus
    dlq_replayed_from). Safe to repeat: consumers skip an event id they handled. --all takes every dead
    letter not replayed yet.
    """
    letters = dead_letters(settings)
    if args.all == bool(args.dlq_topic):
        raise LookupError("give either --all or a dead-letter topic and its positions")
    if args.all:
        chosen = [d for d in letters if not d.replayed]
    elif not args.positions:
        raise LookupError(f"which dead letters of {args.dlq_topic}? give their positions (see list)")
    else:
        chosen = [find(letters, args.dlq_topic, p) for p in args.positions]
    if args.group:
        chosen = [d for d in chosen if d.message.header("dlq_consumer_group") == args.group]
    todo = []
    for letter in chosen:
        m = letter.message
        problem = replay_problem(letter)
        if problem:
            print(f"skipped  {m.topic} {m.position}: {problem}")
            continue
        todo.append(letter)
        verb = "would replay" if args.dry_run else "replaying"
        print(f"{verb} {m.topic} {m.position} (event {m.header('ce_id')}, {m.header('ce_type')}) "
              f"to {m.topic.removesuffix('.dlq')}")
    if not args.dry_run:
        replay(settings, todo)
    print(f"{len(todo)} {'to replay (dry run, nothing published)' if args.dry_run else 'replayed'}, "
          f"{len(chosen) - len(todo)} skipped")
    return 0


Command = Callable[[Settings, argparse.Namespace], int]


def _command(commands: argparse._SubParsersAction[argparse.ArgumentParser], run: Command) -> argparse.ArgumentParser:
    """The subcommand ``run`` implements, named after it (``_show`` is ``show``): its docstring's first
    paragraph is the one-line help, the rest the description, so a command is documented where it is written."""
    summary, _, description = inspect.cleandoc(run.__doc__ or "").partition("\n\n")
    command = commands.add_parser(run.__name__.removeprefix("_"), help=summary, description=description or None)
    command.set_defaults(run=run)
    return command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m shared.dlq",
        description="List, inspect and replay dead letters (<topic>.dlq) on the configured bus (EVENT_BUS, "
                    "TOPIC_PREFIX and the other settings come from the environment).")
    sub = p.add_subparsers(dest="command", required=True)
    lst = _command(sub, _list)
    lst.add_argument("--topic", choices=TOPICS, help="only the dead letters of this source topic")
    lst.add_argument("--json", action="store_true", help="a JSON array instead of the table")
    show = _command(sub, _show)
    show.add_argument("dlq_topic", help="e.g. demand.events.dlq")
    show.add_argument("position", help="partition:offset as printed by list (a bare offset if unambiguous)")
    rep = _command(sub, _replay)
    rep.add_argument("--all", action="store_true", help="every dead letter not replayed yet")
    rep.add_argument("dlq_topic", nargs="?", help="e.g. demand.events.dlq")
    rep.add_argument("positions", nargs="*", help="partition:offset as printed by list")
    rep.add_argument("--group", help="only dead letters of this consumer group (e.g. routing-service)")
    rep.add_argument("--dry-run", action="store_true", help="say what would be replayed, publish nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(Settings.from_env(), args)
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
