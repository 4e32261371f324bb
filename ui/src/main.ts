import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { pickBackend } from './lib/backend';
import { AppStore } from './lib/state/app.svelte';

// Marks for the cold-start benchmark (issue 5 P6) show where the page's share of a launch goes;
// this one: the bundle is loaded and its modules evaluated.
performance.mark('agent-inbox:script');

const backend = await pickBackend();
const app = new AppStore(backend);
mount(App, { target: document.getElementById('app')!, props: { app } });
