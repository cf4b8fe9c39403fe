"""`python -m streams` is `postsale`."""

from streams.cli import main

main()
