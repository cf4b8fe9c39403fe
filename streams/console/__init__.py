"""The after-sales console: `postsale console`, a web page for a store's after-sales managers."""
