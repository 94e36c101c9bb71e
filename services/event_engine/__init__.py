"""The event-engine: detections/+ -> tracks, lines, zones, rules -> events/<camera_id>/<type>.

Modules, one job each:

* :mod:`geometry` -- anchor points, lines and zones in pixels, vectorised tests.
* :mod:`crossing` -- a track's side of a line, hysteresis and cool-down.
* :mod:`zones` -- a track's visit of a zone: enter, exit, dwell.
* :mod:`tracks` -- what the engine remembers per camera and track (checkpointed).
* :mod:`rules` -- which configured rules an occurrence fires.
* :mod:`camera` -- one camera's envelopes in, events out.
* :mod:`engine` -- routing by device, the cameras, the checkpoint.
"""
