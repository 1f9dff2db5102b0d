#!/usr/bin/env bash
# Renders the PWA's PNG icons from our own SVGs. Run once after editing an SVG and
# commit the PNGs; the build only embeds them (no image tools needed to build).
#   static/icon.svg       -> static/icon-192.png, static/icon-512.png  (purpose "any")
#   icon-maskable.svg     -> static/icon-maskable-512.png               (purpose "maskable":
#                            full-bleed background, drawing inside the 80% safe circle)
# Needs rsvg-convert (Debian: apt-get install -y librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
command -v rsvg-convert >/dev/null || { echo "needs rsvg-convert: apt-get install -y librsvg2-bin" >&2; exit 1; }
rsvg-convert -w 192 -h 192 static/icon.svg -o static/icon-192.png
rsvg-convert -w 512 -h 512 static/icon.svg -o static/icon-512.png
rsvg-convert -w 512 -h 512 icon-maskable.svg -o static/icon-maskable-512.png
ls -l static/*.png
