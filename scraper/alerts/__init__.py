"""Push alerts through apprise: build one message per alert and run (or digest), send it,
and record which stories went out (``deliver``), so each story reaches an alert once."""
