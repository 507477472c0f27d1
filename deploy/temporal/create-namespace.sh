#!/bin/sh
# Registers chaptask's namespace and its search attributes on the Temporal
# cluster at TEMPORAL_ADDRESS (the temporal-namespace service). chaptask would
# add the search attributes itself, but the API and every worker would race to
# do it; doing it once here, before they start, avoids that.
set -eu

ns=${TEMPORAL_NAMESPACE:-default}

tries=0
until temporal operator cluster health >/dev/null 2>&1; do
	tries=$((tries + 1))
	[ "$tries" -lt 60 ] || { echo "Temporal at $TEMPORAL_ADDRESS is not serving" >&2; exit 1; }
	sleep 2
done

if ! temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
	temporal operator namespace create --namespace "$ns" --retention 720h
fi

# A new namespace reaches the frontend's cache within a few seconds; retry
# until it takes the search attributes.
for attr in ChaptaskTaskID ChaptaskTaskType ChaptaskCommand; do
	tries=0
	until temporal operator search-attribute list --namespace "$ns" | grep -qw "$attr" ||
		temporal operator search-attribute create --namespace "$ns" --name "$attr" --type Keyword; do
		tries=$((tries + 1))
		[ "$tries" -lt 15 ] || { echo "cannot add search attribute $attr" >&2; exit 1; }
		sleep 2
	done
done
echo "namespace $ns is ready"
