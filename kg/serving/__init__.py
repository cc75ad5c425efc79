"""`kg serve`: the recommender over HTTP for shops, with events folded in as they arrive.

``create_app`` builds the FastAPI application from settings (``app.py``); the pieces it
wires are one module each: API keys (``auth``), request and response models
(``schemas``), the live model with the events folded in (``live``), the event writer
(``events``), the background refit (``refit``), the child process both do their heavy
work in (``background``), the scoring threads (``compute``), Prometheus metrics
(``metrics``) and the request size and time limits (``limits``). ``run_server`` starts it
under uvicorn.
"""
