#!/usr/bin/env bash
# etc/run.sh — what `make run` starts. The daemon (`authgate serve`, issue 6)
# does not exist yet; until it does, show the parts that do, on the demo zone.
set -eu
authgate=$1
cd "$(dirname "$0")/.."
if "$authgate" --help | grep -q '^  serve '; then
	exec "$authgate" serve -c etc/authgate.conf
fi
echo "authgate: the SMTP daemon ('authgate serve') is not built yet (issue 6)."
echo "Here is the DNS layer every check stands on, answering from etc/demo.zone:"
for q in "TXT example.org" "MX example.org" "A mail.example.org" "A www.example.org"; do
	echo "\$ authgate lookup --zone etc/demo.zone $q"
	"$authgate" lookup --zone etc/demo.zone $q || true
done
