#!/bin/sh
# Adds a version to the GCP secret named after the key (dots and slashes
# not allowed there: groq-$GROQGATE_KEY_NAME). The key arrives on stdin.
set -eu
read -r secret
name="groq-$GROQGATE_KEY_NAME"
printf '%s' "$secret" | gcloud secrets versions add "$name" --data-file=- \
	${GROQGATE_GCP_PROJECT:+--project "$GROQGATE_GCP_PROJECT"} --format='value(name)'
echo "stored $GROQGATE_KEY_FINGERPRINT in $name"
