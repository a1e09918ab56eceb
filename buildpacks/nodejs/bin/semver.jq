# satisfies($range): is the version string on input in the npm semver range?
# Handles "||", AND-ed comparators, ^ ~ >= > <= < =, x-ranges and partial versions.
def nums: ltrimstr("v") | split(".") | map(select(. != "x" and . != "X" and . != "*" and . != "") | tonumber);
def pad: (. + [0, 0, 0])[0:3];
def cmp($a; $b): if $a[0] != $b[0] then $a[0] - $b[0] elif $a[1] != $b[1] then $a[1] - $b[1] else $a[2] - $b[2] end;
def sat1($v; $c):
  if $c == "" or $c == "*" or $c == "x" or $c == "X" then true
  elif ($c | startswith(">=")) then cmp($v; $c[2:] | nums | pad) >= 0
  elif ($c | startswith("<=")) then cmp($v; $c[2:] | nums | pad) <= 0
  elif ($c | startswith(">")) then cmp($v; $c[1:] | nums | pad) > 0
  elif ($c | startswith("<")) then cmp($v; $c[1:] | nums | pad) < 0
  elif ($c | startswith("^")) then ($c[1:] | nums) as $p
    | cmp($v; $p | pad) >= 0
      and (if ($p | length) == 1 or $p[0] > 0 then $v[0] == $p[0]
           elif ($p | length) == 2 or $p[1] > 0 then $v[0] == 0 and $v[1] == $p[1]
           else $v == ($p | pad) end)
  elif ($c | startswith("~")) then ($c[1:] | ltrimstr(">") | nums) as $p
    | cmp($v; $p | pad) >= 0 and $v[0] == $p[0] and (($p | length) < 2 or $v[1] == $p[1])
  else ($c | ltrimstr("=") | nums) as $p | all(range(0; $p | length); $v[.] == $p[.])
  end;
def satisfies($range):
  (split(".") | map(tonumber)) as $v
  | any($range | gsub("(?<op>[<>=~^]+)\\s+"; "\(.op)") | split("||")[] | gsub("^\\s+|\\s+$"; "");
        [splits("\\s+")] | all(.[]; sat1($v; .)));
