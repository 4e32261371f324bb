// Agent Inbox embed: <script src="https://<service>/widget/embed.js" async></script>
// Adds a "Chat with us" button that opens the widget in an iframe served by the same service.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.__agentInboxEmbed) return;
  window.__agentInboxEmbed = true;
  var origin = new URL(script.src, location.href).origin;
  var frame = null;
  var open = false;

  function css(node, rules) {
    for (var k in rules) node.style.setProperty(k, rules[k]);
  }

  var button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Chat with us';
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', 'agent-inbox-frame');
  css(button, {
    position: 'fixed', right: '16px', bottom: '16px', 'z-index': '2147483647',
    padding: '12px 18px', border: '0', 'border-radius': '24px', background: '#1f5fd1',
    color: '#fff', font: '600 15px system-ui, sans-serif', cursor: 'pointer',
    'box-shadow': '0 2px 10px rgba(0,0,0,.25)',
  });

  function toggle() {
    open = !open;
    if (open && !frame) {
      frame = document.createElement('iframe');
      frame.id = 'agent-inbox-frame';
      frame.title = 'Chat with us';
      frame.src = origin + '/widget';
      css(frame, {
        position: 'fixed', right: '16px', bottom: '72px', 'z-index': '2147483647',
        width: 'min(380px, calc(100vw - 32px))', height: 'min(580px, calc(100vh - 96px))',
        border: '1px solid #d0d7de', 'border-radius': '12px', background: '#fff',
        'box-shadow': '0 4px 24px rgba(0,0,0,.25)',
      });
      document.body.appendChild(frame);
    }
    if (frame) frame.style.setProperty('display', open ? 'block' : 'none');
    button.textContent = open ? 'Close chat' : 'Chat with us';
    button.setAttribute('aria-expanded', String(open));
    if (open && frame) frame.focus();
  }

  button.addEventListener('click', toggle);
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && open) {
      toggle();
      button.focus();
    }
  });

  function mount() {
    document.body.appendChild(button);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
