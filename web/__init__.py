"""dramawatch's read-only web app: search, stories, timelines, source health, digests, Atom."""
