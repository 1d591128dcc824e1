"""Code every coursestream service uses: settings, events, broker wiring, HTTP plumbing."""
