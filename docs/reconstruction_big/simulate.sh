#!/bin/bash
# issue 21's larger set: the quick start's --full options (max impact 300 m, viewcones, energy minima), 4x its test set
set -e
export CTAPIPE_SVC_PATH=/work/shared/data/instrument LST_TRIGGER_DATA=/work/shared/data
TS=/work/main/.venv/bin/trigger-synth
one() { split=$1; particle=$2; n=$3; seed=$4; shift 4
  [ -f $split/$particle.dl1.h5 ] && return
  rm -rf .$split-$particle
  /usr/bin/time -f "$split $particle %e s" $TS simulate --particles $particle --n-events $n --max-impact "300 m" --seed $seed \
    --shower-model v2 --workers 2 --output .$split-$particle --no-progress --log-level ERROR "$@"
  mkdir -p $split && mv .$split-$particle/$particle.dl1.h5 $split/ && rm -rf .$split-$particle; }
one test gamma 3200 122 --viewcone "1 deg" --energy-min "50 GeV"
one test proton 4000 123 --viewcone "3 deg" --energy-min "150 GeV"
one train gamma 4800 121 --viewcone "1 deg" --energy-min "50 GeV"
one train proton 6000 124 --viewcone "3 deg" --energy-min "150 GeV"
