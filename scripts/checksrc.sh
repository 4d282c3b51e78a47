#!/bin/sh
# checksrc-lite: banned functions in our C sources (STYLE.md 2.8).
set -u
top=${1:-.}
cd "$top" || exit 1
banned='sprintf|vsprintf|strcpy|strcat|strncpy|strncat|gets|strtok|atoi|atol|atof|system|popen'
hits=$(git ls-files 'src/*.c' 'src/*.h' 'outputs/*.c' 'outputs/*.h' 2>/dev/null |
    xargs -r grep -nwE "($banned)[[:space:]]*\(" | grep -v 'checksrc: allow')
if [ -n "$hits" ]; then
    echo "banned functions (use snprintf, ms_buf, strtol with endptr, strtok_r):"
    echo "$hits"
    exit 1
fi
echo "checksrc: clean"
