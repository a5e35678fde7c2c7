#!/usr/bin/env bash
# Re-fetch the web page's one third-party asset (Apache ECharts) from npm and vendor the built file
# with its licence into the package, so the page works with no internet. Run after changing VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${ECHARTS_VERSION:-6.1.0}"
DEST=src/chainlight/serve/static/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "echarts@${VERSION}" >/dev/null && tar -xzf echarts-*.tgz)
mkdir -p "$DEST"
cp "$work/package/dist/echarts.min.js" "$DEST/echarts.min.js"
cp "$work/package/LICENSE" "$DEST/echarts.LICENSE.txt"
[ -f "$work/package/NOTICE" ] && cp "$work/package/NOTICE" "$DEST/echarts.NOTICE.txt"
echo "echarts ${VERSION} (Apache-2.0) from npm" > "$DEST/echarts.VERSION.txt"
echo "vendored echarts ${VERSION} into $DEST"
