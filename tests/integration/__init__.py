"""Integration tier (marked `slow`): `kg` processes, training, whole pipelines, fits on
real data, slow fuzzing."""
