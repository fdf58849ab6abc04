"""One grading of a sequence-interface exercise: ``attend(Q, K, V)`` on whole sequences.

Jobs, in order (each a fresh fork of the zygote): the visible cases (interface + correctness), the hidden cases
(their output is never shown), then one job per property check the exercise lists: ``causality`` (each case
beside copies whose future inputs were replaced) and ``complexity`` (T = 256 … 4096 under the operation
counter). The first job that does not finish normally decides the verdict; the checks after it are not run.
"""

from __future__ import annotations

import time

from graders.cases import hidden, make_cases, visible
from graders.checks import causality, complexity, interface, outputs
from graders.grading import Grading
from graders.report import Report, not_judged


class SequenceGrading(Grading):
    def run(self, submission_sha256: str) -> Report:
        starts = self.host.starts
        self.host.start()  # no-op when warm; else the zygote boots while the parent prepares the cases
        if self._correctness_of_outputs():
            properties = {"causality": self._causality, "complexity": self._complexity}
            for check in self.spec.checks:
                if self.problem is not None:
                    break
                if check.id in properties:
                    properties[check.id]()
        if self.host.starts != starts and self.host.last_start_s is not None:
            self.timings["zygote_start_s"] = self.host.last_start_s
        return self._report(submission_sha256)

    def _correctness_of_outputs(self) -> bool:
        cases = make_cases(self.spec)
        shown, secret = visible(cases), hidden(cases)

        def blame(op: int | None) -> str:
            """The import and the first (smallest) case probe the interface; later cases test correctness."""
            return "interface" if op is None or op < 2 else "correctness"

        if not self._job("visible", outputs.plan_for(self.spec, shown), blame, schema_check="interface"):
            return False
        plan = outputs.plan_for(self.spec, secret)
        if not self._job("hidden", plan, lambda op: "correctness", schema_check="interface"):
            return False
        self.results["interface"] = interface.passed(self.spec)
        started = time.perf_counter()
        got = {
            c.name: self.jobs["visible" if not c.hidden else "hidden"].outputs[f"{c.name}/y"] for c in cases
        }
        oracle = {c.name: outputs.reference_outputs(self.model, self.spec, c) for c in cases}
        self.results["correctness"] = outputs.evaluate(self.spec, got, oracle, cases)
        self.timings["reference_s"] = time.perf_counter() - started
        return True

    def _causality(self) -> None:
        found = causality.probes(self.spec, visible(make_cases(self.spec)))
        if self._job(
            "causality",
            causality.plan_for(self.spec, found),
            lambda op: "causality",
            schema_check="causality",
        ):
            self.results["causality"] = causality.evaluate(self.spec, found, self.jobs["causality"].outputs)

    def _complexity(self) -> None:
        if not self._outputs_right():  # its verdict would be about the cost of wrong outputs: no job for it
            self.results["complexity"] = not_judged("complexity", self.spec.check_points("complexity"))
            return
        cases = complexity.ladder_cases(self.spec)
        plan = complexity.plan_for(self.spec, cases)
        if self._job("complexity", plan, lambda op: "complexity", schema_check="complexity"):
            outputs_ = self.jobs["complexity"].outputs
            self.results["complexity"] = complexity.evaluate(self.spec, self.model, cases, outputs_)
