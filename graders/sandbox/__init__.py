"""The sandbox, parent side: run a schedule of calls on a submission in a forked, confined child.

``jobs.run_job(job)`` sends the source, the schedule and the input tensors to the process-wide zygote
(``host.default_host()``) and returns an ``outcome.JobOutcome``. The zygote (a clean torch-loaded interpreter)
forks a supervisor per job, the supervisor starts the runner (as PID 2 under a trusted mini-init in fresh pid,
net, ipc, uts and mount namespaces, or directly where namespaces are denied or ``MEMLAB_SANDBOX_NO_NAMESPACES=1``
forces the fallback), the runner confines itself (rlimits, Landlock, its slot's own uid, no capabilities,
a seccomp deny-list) and runs the student's code; in the fallback the supervisor then sweeps that uid.
Everything travels as length-prefixed frames of JSON + safetensors, never pickle (``child/wire.py``). The zygote
decides the layers once at start, lists them in every report, and refuses to run anything
(``host.SandboxUnsafe``) with neither namespaces nor Landlock.
"""

# Deliberately no imports: ``graders.sandbox.host`` must load without torch, so that ``grade()`` can start a cold
# zygote before the parent itself spends a second importing torch.
