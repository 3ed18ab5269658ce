"""Route tests, against a real uvicorn server."""
