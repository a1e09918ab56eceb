/** The dashboard's stylesheet: system fonts, WCAG AA contrast, one column on a phone. */
export const DASHBOARD_CSS = `
:root{--fg:#1b1f24;--muted:#4a5360;--bg:#fff;--panel:#f5f7fa;--line:#d0d7de;--accent:#0a5bc4;--ok:#116329;--bad:#a40e26;--warn:#7a4d00;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;font-size:16px;line-height:1.45;color:var(--fg);background:var(--bg)}
*{box-sizing:border-box}body{margin:0}
a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:2}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.6rem 1rem;background:#132238;color:#fff}
header.top a{color:#fff;text-decoration:none}header.top a:hover{text-decoration:underline}
header.top .brand{font-weight:700;margin-right:auto}
header.top nav ul{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;margin:0;padding:0}
header.top form{margin:0}header.top button{background:transparent;color:#fff;border:1px solid #8aa0bd}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}h3{font-size:1rem;margin:1rem 0 .25rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.75rem;margin:0 0 1rem;padding:0;list-style:none}
.cards li{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem}
.cards .n{display:block;font-size:1.6rem;font-weight:700}
table{border-collapse:collapse;width:100%;margin:.25rem 0 1rem;font-size:.95rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel)}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;word-break:break-all}
.state{font-weight:600}.state-RUNNING,.state-running,.state-STARTED,.state-STAGED,.state-DEPLOYED,.state-COMPLETE{color:var(--ok)}
.state-CRASHED,.state-crashed,.state-FAILED,.state-CANCELED{color:var(--bad)}.state-STAGING,.state-staging,.state-STARTING,.state-DEPLOYING,.state-PROCESSING{color:var(--warn)}
.behind{color:var(--warn);font-weight:600}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0 1rem}.actions form{margin:0;display:flex;gap:.35rem;align-items:center}
button,.button{font:inherit;padding:.35rem .8rem;border-radius:6px;border:1px solid #1f4e8c;background:var(--accent);color:#fff;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}button.danger{background:var(--bad);border-color:var(--bad)}
input,select{font:inherit;padding:.3rem .4rem;border:1px solid #6e7781;border-radius:4px;max-width:100%}
label{display:block;font-weight:600;margin:.5rem 0 .15rem}
.inline label{display:inline;margin-right:.25rem}
.login{max-width:22rem;margin:3rem auto}.login button{margin-top:1rem}
.error{color:var(--bad);font-weight:600}.muted{color:var(--muted)}
pre.log{background:#0d1117;color:#e6edf3;padding:.6rem;border-radius:6px;max-height:24rem;overflow:auto;font-size:.8rem;white-space:pre-wrap}
.stack{list-style:none;padding:0;margin:0 0 1rem;display:flex;flex-direction:column-reverse;gap:3px}
.stack li{border:1px solid var(--line);border-left:8px solid #8c959f;border-radius:4px;padding:.35rem .6rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem;background:#fff}
.stack li.kind-stack{border-left-color:#4a6fa5}.stack li.kind-buildpack{border-left-color:#8250df}.stack li.kind-app{border-left-color:#1a7f37}
.stack li.kind-launcher,.stack li.kind-config,.stack li.kind-process-types,.stack li.kind-droplet{border-left-color:#bf8700}
.stack .what{font-weight:600;min-width:14rem}.stack .size{font-variant-numeric:tabular-nums}
tr.differs td{background:#fff4e5}
.stack .packages{font-variant-numeric:tabular-nums}.stack .vulns{font-weight:600;color:var(--bad)}
.sev{font-weight:600}.sev-critical,.sev-high{color:var(--bad)}.sev-medium{color:var(--warn)}.sev-low,.sev-negligible,.sev-unknown{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 1rem}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
progress{width:16rem;max-width:100%}
@media (max-width:40rem){main{padding:.5rem}.stack .what{min-width:0}th,td{padding:.3rem}}
`;
