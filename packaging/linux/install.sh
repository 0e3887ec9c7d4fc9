#!/bin/sh
# Install (or, with --uninstall, remove) the chatapp bundle for the current user:
#   the bundle     -> $PREFIX/opt/chatapp/
#   the command    -> $PREFIX/bin/chatapp (a link)
#   desktop entry, AppStream metainfo and icons under $PREFIX/share/
# PREFIX defaults to ~/.local (no root needed). Run it from the unpacked tarball.
set -eu

APP_ID=io.github.chatapp.chatapp
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-"$HOME/.local"}
DEST="$PREFIX/opt/chatapp"
SHARE="$PREFIX/share"
SIZES="16 24 32 48 64 128 256 512"

refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$SHARE/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" 2>/dev/null || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$DEST"
    rm -f "$PREFIX/bin/chatapp" "$SHARE/applications/$APP_ID.desktop" "$SHARE/metainfo/$APP_ID.metainfo.xml"
    rm -f "$SHARE/icons/hicolor/scalable/apps/$APP_ID.svg"
    for size in $SIZES; do
        rm -f "$SHARE/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
    done
    refresh
    echo "chatapp removed from $PREFIX (your threads stay in your data folder)."
    exit 0
fi

if [ ! -x "$HERE/chatapp/chatapp" ]; then
    echo "install.sh: no bundle next to this script ($HERE/chatapp/chatapp)" >&2
    exit 1
fi

mkdir -p "$PREFIX/opt" "$PREFIX/bin" "$SHARE/applications" "$SHARE/metainfo"
rm -rf "$DEST.new"
cp -R "$HERE/chatapp" "$DEST.new"
rm -rf "$DEST"
mv "$DEST.new" "$DEST"
ln -sf "$DEST/chatapp" "$PREFIX/bin/chatapp"

# the entry names the installed program by its full path: ~/.local/bin may not be on PATH
sed "s|^Exec=chatapp|Exec=\"$DEST/chatapp\"|" "$HERE/share/$APP_ID.desktop" > "$SHARE/applications/$APP_ID.desktop"
cp "$HERE/share/$APP_ID.metainfo.xml" "$SHARE/metainfo/"
mkdir -p "$SHARE/icons/hicolor/scalable/apps"
cp "$HERE/share/icons/chatapp.svg" "$SHARE/icons/hicolor/scalable/apps/$APP_ID.svg"
for size in $SIZES; do
    mkdir -p "$SHARE/icons/hicolor/${size}x${size}/apps"
    cp "$HERE/share/icons/chatapp-$size.png" "$SHARE/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
done
refresh
echo "chatapp installed in $DEST; start it from your applications menu or with $PREFIX/bin/chatapp"
