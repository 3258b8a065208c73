// The UI lands with the web UI issue.
