"""The grading engine on the trusted side: settings, reading notebooks as plain JSON, the policy scan, and the runner that prepares inputs, runs the sandbox and judges the answers."""
