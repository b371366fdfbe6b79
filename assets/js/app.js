document.getElementById('app').textContent='tessera';
