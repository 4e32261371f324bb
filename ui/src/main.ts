import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { pickBackend } from './lib/backend';
import { AppStore } from './lib/state/app.svelte';

const backend = await pickBackend();
const app = new AppStore(backend);
mount(App, { target: document.getElementById('app')!, props: { app } });
