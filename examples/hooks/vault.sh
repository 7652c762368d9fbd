#!/bin/sh
# Writes the new Groq key to HashiCorp Vault (KV v2) at
# ${GROQGATE_VAULT_PATH:-secret/groq}/$GROQGATE_KEY_NAME, field api_key.
# VAULT_ADDR and VAULT_TOKEN come from groqgated's environment. stdin: the key.
set -eu
read -r secret
path="${GROQGATE_VAULT_PATH:-secret/groq}/$GROQGATE_KEY_NAME"
# "api_key=-" makes vault read the value from stdin
printf '%s' "$secret" | vault kv patch "$path" api_key=- > /dev/null 2>&1 ||
	printf '%s' "$secret" | vault kv put "$path" api_key=-
echo "stored $GROQGATE_KEY_FINGERPRINT at $path"
