#!/bin/sh
# gammu-smsd's RunOnReceive / RunOnSent / RunOnFailure hook for the smsgw modem provider.
# It only enqueues: gammu-smsd waits for it (up to 2 minutes, no modem polling meanwhile),
# so it writes one record and exits (about 10 ms). The smsgw worker reads the records.
#
#   usage: gammu_hook.sh recv|sent|fail SPOOL [ID]
#
# `smsgw modem config` copies this file next to gammu-smsd's config and writes:
#   RunOnReceive = /bin/sh HOOK recv SPOOL #
#   RunOnSent    = /bin/sh HOOK sent SPOOL
#   RunOnFailure = /bin/sh HOOK fail SPOOL
# gammu-smsd runs `sh -c "<that line> <ids>"`. Debian's gammu-smsd 1.42 pastes the ids
# unquoted, and for a received SMS they are inbox file names holding the SENDER's number,
# which whoever sends the SMS chooses: a shell command in it would run. The trailing '#'
# makes them a comment, so for received SMS we read the environment only (SMS_*,
# DECODED_*), never the ids. (1.44 and later quote them; the '#' is harmless there.) For
# sent/fail the id is the outbox file name smsgw chose from [A-Za-z0-9_+.-]: kept, as $3.
#
# A record is the hook's whole environment as NUL-separated KEY=VALUE (`env -0`: an SMS
# text may hold newlines) plus HOOK_EVENT and HOOK_ID, written to a hidden temporary file
# in SPOOL and renamed to <event>.<nanoseconds>.<pid>, so the worker never reads half a
# record and reads them in the order they came.
set -eu
event=$1
spool=$2
id=${3:-}
umask 007
tmp=$(mktemp "$spool/.tmp.XXXXXXXX")
chmod 660 "$tmp"   # mktemp makes it 0600: the worker runs as another user of the group
HOOK_EVENT=$event HOOK_ID=$id env -0 > "$tmp"
mv "$tmp" "$spool/$event.$(date +%s%N).$$"
