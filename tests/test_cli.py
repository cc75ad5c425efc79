"""Re-exports for the root test modules still being edited elsewhere (test_ask,
test_profiles, test_recommend_temporal, test_extract_cli, test_extract_distributed):
delete this file when they move into a tier folder and import from tests.helpers.
The `kg` command's own tests are tests/integration/test_cli.py."""

from tests.helpers import KG, ROOT, assert_clean_error, kg, kg_ingest  # noqa: F401
