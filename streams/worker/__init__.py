"""The live worker: one Faust app that turns records into decisions.

`app.build` is the one place that wires it; `agents` is its loop (intake → align → decide → settle). Nothing here
imports the demo, the simulator or the offline commands.
"""
