#!/bin/sh
# Stores the new Groq key in AWS Secrets Manager as
# ${GROQGATE_AWS_SECRET_PREFIX:-groq/}$GROQGATE_KEY_NAME. The key arrives on stdin.
set -eu
read -r secret
id="${GROQGATE_AWS_SECRET_PREFIX:-groq/}$GROQGATE_KEY_NAME"
# file:///dev/stdin keeps the secret out of argv
printf '%s' "$secret" | aws secretsmanager put-secret-value --secret-id "$id" \
	--secret-string file:///dev/stdin --output text --query VersionId
echo "stored $GROQGATE_KEY_FINGERPRINT in $id"
