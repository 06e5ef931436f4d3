import './base.css';
import './schedules.css';
import './details.css';
