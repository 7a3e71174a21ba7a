"""lm-eval as a library, with one measurement window per document.

lm-eval hands a model all requests of a task at once and records no
per-request cost. `PerDocumentLM` sits between lm-eval and the real model:
it groups the requests by document (all answer choices of one question, or
the one generation request of a `generate_until` task), scores or decodes
each group inside one energy/time window, and appends the result to
the unit's shard before moving on. Documents already in the shard are
answered from it, so a resumed run recomputes nothing, yet lm-eval still
scores every document itself: the labels are lm-eval's own per-sample
metrics. The real model is loaded only when a document needs it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from lm_eval.api.model import LM
from tqdm import tqdm

from messplus_core.core.satisfaction import Satisfaction
from messplus_core.errors import ConfigError
from .energy import EnergyMeter
from .shards import DocRecord, ShardWriter

if TYPE_CHECKING:
    from lm_eval.api.instance import Instance
    from lm_eval.tasks import TaskManager

LOCAL_TASKS = Path(__file__).parent / "tasks"


class _DropMetadataHint(logging.Filter):
    """lm-eval warns on every load of a task with a custom dataset (our local `demo`) that kwargs can be passed
    via `--metadata`: advice for its own CLI, repeated once per unit. Everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed to `--metadata`" not in record.getMessage()


logging.getLogger("lm_eval.api.task").addFilter(_DropMetadataHint())


@lru_cache(maxsize=2)
def task_manager(include_defaults: bool) -> "TaskManager":
    """The project's local tasks, plus lm-eval's own only when needed (indexing those costs ~10 s)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(LOCAL_TASKS), include_defaults=include_defaults)


def local_tasks() -> list[str]:
    """Names of the project's own lm-eval tasks (capture/tasks/)."""
    return task_manager(False).all_subtasks


def manager_for(tasks: list[str]) -> "TaskManager":
    """A TaskManager that knows `tasks`: lm-eval's own index only when a task is not one of the local ones."""
    return task_manager(not set(tasks) <= set(local_tasks()))


def check_tasks(tasks: list[str]) -> None:
    """Every benchmark must name one single lm-eval task (not a group or tag)."""
    tm = manager_for(tasks)
    for task in tasks:
        if task in tm.all_subtasks:
            continue
        if task in tm.all_groups or task in tm.all_tags:
            raise ConfigError(
                f"lm-eval task {task!r} is a group/tag of several tasks; capture needs one task per benchmark "
                "(doc_ids repeat across subtasks). Make one benchmark config per subtask."
            )
        close = difflib.get_close_matches(task, tm.all_subtasks, n=5)
        raise ConfigError(
            f"lm-eval has no task {task!r}" + (f"; did you mean one of {close}?" if close else ".")
            + f" The project's local tasks are {local_tasks()} (in {LOCAL_TASKS})."
        )


@lru_cache(maxsize=None)
def load_task(task: str) -> Any:
    """lm-eval's task object for `task` (its data read or fetched), loaded once per process.

    Raises ConfigError when lm-eval cannot load the task's data (e.g. a hub data set not cached while offline).
    """
    try:
        return manager_for([task]).load([task])["tasks"][task]
    except (ConnectionError, OSError, ValueError) as err:
        raise ConfigError(
            f"lm-eval could not load the data of task {task!r}: {err}. The paper's benchmarks come from the "
            "Hugging Face hub: run once with network access (HF_DATASETS_OFFLINE unset) to cache them, or pick "
            "a benchmark whose data is here (benchmark=demo)."
        ) from err


def check_task_data(tasks: list[str]) -> None:
    """Load each task once (lm-eval fetches or reads its data), so missing data fails before any model loads."""
    for task in tasks:
        load_task(task)


def request_text(args: list[tuple[str, str]]) -> str:
    """The document as the model reads it: lm-eval's context, without the answer choices.

    Most multiple-choice tasks share one context across choices. Tasks scored
    by partial evaluation (winogrande) put each choice inside its context and
    share the continuation; there the text is the contexts' common part, a
    blank, and the continuation, i.e. the original fill-in-the-blank sentence.
    """
    contexts = [c for c, _ in args]
    if len(set(contexts)) == 1:
        return contexts[0]
    prefix = os.path.commonprefix(contexts)
    prefix = prefix[: prefix.rfind(" ") + 1] if " " in prefix else ""
    continuations = {c for _, c in args}
    tail = continuations.pop() if len(continuations) == 1 else ""
    return f"{prefix.rstrip()} _{tail}".strip()


def request_hash(args: list[tuple[str, str]]) -> str:
    """16 hex digits of SHA-256 over a document's (context, continuation) requests: a resumed shard must match."""
    return hashlib.sha256(json.dumps(args, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


class PerDocumentLM(LM):
    """An lm-eval LM that scores each document in its own window and journals it to a shard."""

    def __init__(self, load: Callable[[], LM], meter: EnergyMeter, writer: ShardWriter, label: str) -> None:
        super().__init__()
        self._load = load
        self._inner: LM | None = None
        self._meter = meter
        self._writer = writer
        self._label = label
        self.measured_docs = 0
        self.measured_time_s = 0.0
        self.reused_docs = 0
        self.decoded = False  # True once lm-eval asked for generations (a generate_until task)

    @property
    def inner(self) -> LM | None:
        """The loaded model, or None when every document came from the shard."""
        return self._inner

    def loglikelihood(self, requests: list["Instance"], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """lm-eval's (log-likelihood, is-greedy) per request, scored one document per energy/time window.

        Documents already in the shard are answered from it; raises ConfigError when a stored document's
        requests differ from what lm-eval builds now (task, prompt or data changed)."""
        by_doc: dict[int, list[int]] = {}
        for pos, req in enumerate(requests):
            by_doc.setdefault(int(req.doc_id), []).append(pos)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        done = self._writer.records
        cached = sum(1 for d in by_doc if d in done)
        bar = tqdm(total=len(by_doc), initial=cached, desc=self._label, unit="doc", disable=disable_tqdm)
        for doc_id in sorted(by_doc):
            positions = by_doc[doc_id]
            group = [requests[p] for p in positions]
            args = [tuple(r.args) for r in group]
            digest = request_hash(args)
            if doc_id in done:
                lls = self._reuse(done[doc_id], digest, len(group))
            else:
                lls = self._measure(doc_id, group, args, digest)
                bar.update(1)
            for p, ll in zip(positions, lls):
                results[p] = ll
        bar.close()
        return results  # type: ignore[return-value]

    def _reuse(self, record: DocRecord, digest: str, n_requests: int) -> list[tuple[float, bool]]:
        if record.request_hash != digest or len(record.loglikelihoods) != n_requests:
            raise ConfigError(
                f"{self._writer.path}: doc_id {record.doc_id} was captured from different requests than lm-eval "
                "builds now (task, prompt or data changed). Delete the shard to recapture this unit."
            )
        self.reused_docs += 1
        return record.loglikelihoods

    def _measure(self, doc_id: int, group: list["Instance"], args: list[tuple[str, str]], digest: str) -> list[tuple[float, bool]]:
        if self._inner is None:
            self._inner = self._load()
        started = self._meter.begin()
        raw = self._inner.loglikelihood(group, disable_tqdm=True)
        reading = self._meter.end(started)
        lls = [(float(ll), bool(greedy)) for ll, greedy in raw]
        self._writer.append(
            DocRecord(
                doc_id=doc_id,
                request_hash=digest,
                input_text=request_text(args),
                loglikelihoods=lls,
                time_s=reading.time_s,
                energy_j=reading.energy_j,
                energy_parts=reading.parts,
            )
        )
        self.measured_docs += 1
        self.measured_time_s += reading.time_s
        return lls

    def loglikelihood_rolling(self, requests: list["Instance"], disable_tqdm: bool = False) -> list[float]:
        """Not supported (perplexity tasks): always raises ConfigError."""
        raise ConfigError("capture scores multiple-choice tasks by log-likelihood; perplexity tasks are not supported.")

    def generate_until(self, requests: list["Instance"], disable_tqdm: bool = False) -> list[str]:
        """Decode each document in its own window (one request per document), journal the text and token counts.

        Token counts use the model's tokenizer without special tokens: the
        prompt as lm-eval built it, and the returned continuation (lm-eval's
        backends cut it at the first stop sequence, so a few tokens decoded
        past a stop sequence are not counted; the window's time and energy
        include them).
        """
        self.decoded = True
        done = self._writer.records
        by_doc: dict[int, int] = {}
        for pos, req in enumerate(requests):
            doc_id = int(req.doc_id)
            if doc_id in by_doc:
                raise ConfigError(f"{self._label}: doc_id {doc_id} has several generation requests (repeats > 1); "
                                  "capture decodes one continuation per document: set repeats: 1 in the task.")
            by_doc[doc_id] = pos
        results: list[str | None] = [None] * len(requests)
        cached = sum(1 for d in by_doc if d in done)
        bar = tqdm(total=len(by_doc), initial=cached, desc=self._label, unit="doc", disable=disable_tqdm)
        for doc_id in sorted(by_doc):
            req = requests[by_doc[doc_id]]
            context, gen_kwargs = req.args
            digest = request_hash([[context, gen_kwargs]])
            if doc_id in done:
                results[by_doc[doc_id]] = self._reuse_text(done[doc_id], digest)
            else:
                results[by_doc[doc_id]] = self._generate(doc_id, req, context, digest)
                bar.update(1)
        bar.close()
        return results  # type: ignore[return-value]

    def _reuse_text(self, record: DocRecord, digest: str) -> str:
        if record.request_hash != digest or record.generated is None:
            raise ConfigError(
                f"{self._writer.path}: doc_id {record.doc_id} was captured from a different request than lm-eval "
                "builds now (task, prompt, generation settings or data changed). Delete the shard to recapture this unit."
            )
        self.reused_docs += 1
        return record.generated

    def _generate(self, doc_id: int, req: "Instance", context: str, digest: str) -> str:
        if self._inner is None:
            self._inner = self._load()
        started = self._meter.begin()
        text = str(self._inner.generate_until([req], disable_tqdm=True)[0])
        reading = self._meter.end(started)
        self._writer.append(
            DocRecord(
                doc_id=doc_id,
                request_hash=digest,
                input_text=context,
                loglikelihoods=[],
                time_s=reading.time_s,
                energy_j=reading.energy_j,
                energy_parts=reading.parts,
                generated=text,
                prompt_tokens=self._count_tokens(context),
                generated_tokens=self._count_tokens(text),
            )
        )
        self.measured_docs += 1
        self.measured_time_s += reading.time_s
        return text

    def _count_tokens(self, text: str) -> int:
        tokenizer = getattr(self._inner, "tokenizer", None)
        if tokenizer is None:
            raise ConfigError(f"{self._label}: the model backend exposes no tokenizer to count tokens with.")
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass(frozen=True)
class TaskOutcome:
    """lm-eval's per-document metrics for one task, and what identifies the task version.

    `metrics` holds lm-eval's per-sample numbers (corpus-level metrics such as
    BLEU, whose per-sample value is a (reference, prediction) pair, are left
    out) plus, when `satisfaction` computes a graded score, that score under
    its metric name, from lm-eval's filtered response and reference.
    """

    metrics: dict[int, dict[str, float]]
    task_version: Any
    n_shot: Any


def _reference(target: Any) -> str:
    """lm-eval's `target` of a sample as one reference string (the first of several)."""
    if isinstance(target, (list, tuple)):
        return str(target[0]) if target else ""
    return str(target)


def run_lm_eval(lm: PerDocumentLM, task: str, limit: int | None, satisfaction: Satisfaction | None = None,
             gen_kwargs: Mapping[str, Any] | None = None) -> TaskOutcome:
    """Run lm-eval's `simple_evaluate` on one task through `lm` (first `limit` documents; None: all) and
    collect its per-sample metrics, plus `satisfaction`'s graded score of each generated text. Raises
    ConfigError when the task yields results for other tasks too, or a graded metric meets non-text output."""
    from lm_eval import simple_evaluate

    res = simple_evaluate(
        model=lm,
        tasks=[task],
        limit=limit,
        task_manager=manager_for([task]),
        bootstrap_iters=0,
        log_samples=True,
        gen_kwargs=dict(gen_kwargs) if gen_kwargs else None,
    )
    samples = res["samples"]
    if set(samples) != {task}:
        raise ConfigError(f"lm-eval task {task!r} produced results for {sorted(samples)}; capture needs exactly one task.")
    metrics: dict[int, dict[str, float]] = {}
    for s in samples[task]:
        row = {m: float(s[m]) for m in s["metrics"] if isinstance(s[m], (int, float))}
        if satisfaction is not None and satisfaction.computed:
            responses = s["filtered_resps"]
            response = responses[0] if isinstance(responses, list) else responses
            if not isinstance(response, str):
                raise ConfigError(f"lm-eval task {task!r} returns {type(response).__name__} responses; "
                                  f"{satisfaction.metric} scores generated text: use it with a generate_until task.")
            row[satisfaction.metric] = satisfaction.score(response, _reference(s["target"]))
        metrics[int(s["doc_id"])] = row
    return TaskOutcome(metrics=metrics, task_version=res["versions"].get(task), n_shot=res["n-shot"].get(task))
