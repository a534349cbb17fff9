"""repbelt host tool: analyze traces, record sessions over BLE, review progress."""
__version__ = "0.1.0"
