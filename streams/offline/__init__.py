"""The offline commands: `postsale replay`, `explain` and `diff`: the rules over a file of events, in event time."""
