"""Running untrusted student code: the trusted launcher (bubblewrap, rlimits, warm templates)
and the ``inside`` package that runs in the sandbox (wire codec, zygote, warm template,
system-call filter, IPython stand-in)."""
