"""The child side of the sandbox: the zygote, the supervisor and the runner.

These modules run in a separate interpreter started with ``python -I`` whose ``sys.path`` holds only the standard
library, site-packages and *this* directory, so they import one another as top-level modules (``import wire``) and
never import ``graders`` or ``reference``. Only :mod:`wire` (stdlib only) is also imported by the grading parent,
as ``graders.sandbox.child.wire``, so both sides share one definition of the frame format.
"""
