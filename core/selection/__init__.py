"""The asset graph, the selection algebra and the selection syntax."""
