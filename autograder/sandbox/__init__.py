"""Running untrusted student code: the trusted launcher (bubblewrap, rlimits, warm templates) and the harness that runs inside the sandbox (wire codec, zygote, template)."""
