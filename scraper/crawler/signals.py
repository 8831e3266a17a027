"""dramawatch's own Scrapy signals."""

# sent with source=, url=, reason= when a page costs an error (fetch failure, unparsable
# feed, unusable page); the run recorder stores it in the run history
page_failed = object()
