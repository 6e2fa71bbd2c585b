"""Environment variables through which ``protoecg app`` hands its settings to the Streamlit app.

One definition shared by the launcher (``protoecg_cli.app_cmd``) and the app (``app.config``), so the
two can never disagree on a name.
"""
MODEL_ENV = "PROTOECG_APP_MODEL"
DB_ENV = "PROTOECG_APP_DB"
MAX_UPLOAD_ENV = "PROTOECG_APP_MAX_UPLOAD_MB"
DATA_ENV = "PROTOECG_APP_DATA"
RESULTS_ENV = "PROTOECG_APP_RESULTS"
SURVIVAL_ENV = "PROTOECG_APP_SURVIVAL"
DEFAULT_MAX_UPLOAD_MB = 10
