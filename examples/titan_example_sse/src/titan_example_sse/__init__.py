"""titan-example-sse: Titan-AAS events as Server-Sent Events (an example third-party plugin)."""

__version__ = "0.1.0"
