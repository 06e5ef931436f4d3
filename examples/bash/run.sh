#!/bin/bash
uname -a
dpkg -l 2>/dev/null | head -n 8
ls -la
