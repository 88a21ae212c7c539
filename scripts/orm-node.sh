#!/usr/bin/env bash
# Installs the pinned Sequelize app of tests/orm/sequelize (Sequelize, pg,
# sqlite3; package-lock.json) that tests/integration/orm.rs drives, and builds
# sqlite3's native module. Idempotent: node_modules installed from exactly this
# lock file, with a module that loads, is left alone.
#
# Why not a plain `npm ci`: sqlite3's install script first downloads a prebuilt
# module from GitHub, then falls back to node-gyp, which downloads Node's
# headers from nodejs.org; neither is reachable from a machine that only sees
# the npm registry (and npm 11 skips dependencies' install scripts by default).
# So the packages come from the registry with their scripts off, and the module
# is built here with the node-gyp that ships with npm, against the headers
# installed with node (`--nodedir`), from the SQLite sources sqlite3 bundles.
set -euo pipefail
cd "$(dirname "$0")/../tests/orm/sequelize"

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_install() {
    echo "orm-node: installing $*" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

loads() { node -e "require('sqlite3')" >/dev/null 2>&1; }

stamp=node_modules/.pg2sqlite-lock
if cmp -s package-lock.json "$stamp" 2>/dev/null && loads; then
    exit 0
fi

command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi

if ! loads; then
    # Node's headers live beside its binary: /usr/include/node for node from
    # /usr/bin (NodeSource's `nodejs` package ships them; Debian's own nodejs
    # puts them in `libnode-dev`).
    nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
    if [ ! -f "$nodedir/include/node/common.gypi" ]; then
        owner="$(dpkg-query -S "$(readlink -f "$(command -v node)")" 2>/dev/null | cut -d: -f1 || true)"
        version="$(dpkg-query -W -f '${Version}' nodejs 2>/dev/null || true)"
        if [ "$owner" = nodejs ] && [[ "$version" == *dfsg* ]]; then
            apt_install libnode-dev
        fi
    fi
    if [ ! -f "$nodedir/include/node/common.gypi" ]; then
        echo "orm-node: no Node headers in $nodedir/include/node (node $(node --version)); install the ones matching this node" >&2
        exit 1
    fi
    if ! command -v make >/dev/null || ! command -v g++ >/dev/null || ! command -v python3 >/dev/null; then
        apt_install make g++ python3
    fi
    # npm's own node-gyp (NodeSource, nodejs.org builds); Debian's npm uses its `node-gyp` package.
    gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
    if [ ! -f "$gyp" ]; then
        command -v node-gyp >/dev/null || apt_install node-gyp
        gyp="$(readlink -f "$(command -v node-gyp)")"
    fi
    echo "orm-node: building sqlite3's native module (node-gyp, --nodedir=$nodedir)" >&2
    log="$(mktemp)"
    if ! (cd node_modules/sqlite3 && node "$gyp" rebuild --nodedir="$nodedir" --jobs=2) >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "orm-node: building sqlite3 failed (whole log: $log)" >&2
        exit 1
    fi
    rm -f "$log"
    loads || { echo "orm-node: the built sqlite3 module does not load" >&2; exit 1; }
fi
echo "orm-node: tests/orm/sequelize ready ($(node -p "Object.entries(require('./package.json').dependencies).map(e => e.join('@')).join(' ')"))"
