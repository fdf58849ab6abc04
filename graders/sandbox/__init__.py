"""The sandbox, parent side: run a schedule of calls on a submission in a forked, confined child.

``jobs.run_job(job)`` sends the source, the schedule and the input tensors to the process-wide zygote
(``host.default_host()``) and returns an ``outcome.JobOutcome``. The zygote (a clean torch-loaded interpreter)
forks a supervisor per job, the supervisor forks the runner, the runner confines itself and runs the student's
code; everything travels as length-prefixed frames of JSON + safetensors, never pickle (``child/wire.py``). The
active layers are listed in every report; the namespaces, Landlock, seccomp and per-slot uid of SANDBOX.md are a
later issue and slot in between the supervisor's fork and the runner's first student call.
"""

# Deliberately no imports: ``graders.sandbox.host`` must load without torch, so that ``grade()`` can start a cold
# zygote before the parent itself spends a second importing torch.
