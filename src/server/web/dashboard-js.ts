/**
 * The dashboard's one script (progressive enhancement: every page works without it).
 * A page region with data-live="URL" listens to that server-sent event stream:
 * `section` events replace the element of their id with the HTML the server rendered
 * (the same renderer as the page), `log` events append a line to the build log.
 */
export const DASHBOARD_JS = `(function(){
  var live=document.querySelector('[data-live]');
  if(!live||!window.EventSource)return;
  var es=new EventSource(live.getAttribute('data-live'));
  es.addEventListener('section',function(e){
    var m=JSON.parse(e.data);var el=document.getElementById(m.id);
    if(el){var t=document.createElement('template');t.innerHTML=m.html;var n=t.content.firstElementChild;if(n)el.replaceWith(n);}
  });
  es.addEventListener('log',function(e){
    var pre=document.getElementById('log');if(!pre)return;
    var atEnd=pre.scrollTop+pre.clientHeight>=pre.scrollHeight-4;
    pre.appendChild(document.createTextNode(JSON.parse(e.data)+'\\n'));
    if(atEnd)pre.scrollTop=pre.scrollHeight;
  });
  live.setAttribute('data-connected','true');
})();`;
